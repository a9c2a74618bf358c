using Echo.Core.Conversations;
using Echo.Core.Direct;

namespace Echo.Core.Events;

/// <summary>A direct message: one that arrived, or ours once it is in the outbox (<see cref="DirectMessage.Outgoing"/>).</summary>
public sealed record DirectMessageEvent(DirectMessage Message) : ChatEvent
{
    /// <summary>The conversation with the other party.</summary>
    public ConversationId Conversation => ConversationId.Direct(Message.PeerId);

    /// <summary>The id of the message it follows in the conversation's log (oldest first); null when it is the first.</summary>
    public string? After { get; init; }
}

/// <summary>The recipient acknowledged our direct message <paramref name="Id"/>.</summary>
public sealed record DirectDeliveredEvent(string PeerId, string Id) : ChatEvent;
