using Echo.Core.Chat;
using Echo.Core.Conversations;
using Echo.Core.Peers;

namespace Echo.Core.Events;

/// <summary>What the chat tells its user interfaces, in order.</summary>
public abstract record ChatEvent;

/// <summary>A message to show: ours once sent, or one that arrived.</summary>
public sealed record MessageEvent(ChatMessage Message) : ChatEvent
{
    /// <summary>The room's conversation.</summary>
    public ConversationId Conversation => ConversationId.Room(Message.Room);

    /// <summary>The id of the message it follows in the conversation's log (oldest first); null when it is the first.</summary>
    public string? After { get; init; }
}

/// <summary>A peer connected.</summary>
public sealed record PeerConnectedEvent(PeerInfo Peer) : ChatEvent;

/// <summary>A peer disconnected.</summary>
public sealed record PeerDisconnectedEvent(PeerInfo Peer) : ChatEvent;

/// <summary>A connected peer's details changed (nick learned, ping measured).</summary>
public sealed record PeerUpdatedEvent(PeerInfo Peer) : ChatEvent;

/// <summary>We joined a room.</summary>
public sealed record RoomJoinedEvent(string Room) : ChatEvent;

/// <summary>We left a room.</summary>
public sealed record RoomLeftEvent(string Room) : ChatEvent;

/// <summary>The room that typed text goes to changed.</summary>
public sealed record CurrentRoomChangedEvent(string Room) : ChatEvent;

/// <summary>The user moved a room (/move): <paramref name="Rooms"/> are the joined rooms in their new order.</summary>
public sealed record RoomsReorderedEvent(IReadOnlyList<string> Rooms) : ChatEvent;

/// <summary>Our nick changed.</summary>
public sealed record NickChangedEvent(string OldNick, string NewNick) : ChatEvent;

/// <summary>Information for the user, e.g. the answer to /peers or /help (one or more lines).</summary>
public record NoticeEvent(string Text) : ChatEvent;

/// <summary>Something the user asked for failed; the message says what and why.</summary>
public sealed record ErrorEvent(string Message) : ChatEvent;

/// <summary>
/// The web UI serves this chat at <paramref name="Url"/>, which carries its access token; with
/// <paramref name="Remote"/> it listens beyond this machine.
/// </summary>
public sealed record WebUiStartedEvent(string Url, bool Remote) : ChatEvent;

/// <summary>The user asked to quit.</summary>
public sealed record QuitEvent : ChatEvent;
