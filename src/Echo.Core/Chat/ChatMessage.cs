namespace Echo.Core.Chat;

/// <summary>Where a message came from, which says how far its sender can be trusted.</summary>
public enum MessageOrigin
{
    /// <summary>Written on this node.</summary>
    Local,

    /// <summary>A room message signed by its author (gossipsub StrictSign).</summary>
    Room,

    /// <summary>A line from an echo-go peer: unsigned, attributed to the peer that sent it.</summary>
    EchoGo,
}

/// <summary>One chat message in a room, as the user sees it.</summary>
/// <param name="Id">Unique per author: the network's message id (author + sequence number).</param>
/// <param name="Room">The room it was said in.</param>
/// <param name="SenderId">The author's peer id (text form).</param>
/// <param name="SenderNick">The nick the author gave; never trusted for identity.</param>
/// <param name="Text">The message text.</param>
/// <param name="Timestamp">When the author says it was written, or when it arrived if the author gave no time or an implausible one (<see cref="ClockClamped"/>).</param>
/// <param name="Origin">How it reached us.</param>
public sealed record ChatMessage(
    string Id,
    string Room,
    string SenderId,
    string SenderNick,
    string Text,
    DateTimeOffset Timestamp,
    MessageOrigin Origin)
{
    /// <summary>True when the author's signature was checked (own messages and signed room messages).</summary>
    public bool Verified => Origin is MessageOrigin.Local or MessageOrigin.Room;

    /// <summary>The message as its author signed it, for the history store and history sync; null for unsigned lines.</summary>
    public SignedEnvelope? Envelope { get; init; }

    /// <summary>The author's id tag when another known peer uses the same nick (set by the chat for the views), else null.</summary>
    public string? SenderTag { get; init; }

    /// <summary>What faces show as the author: the nick, or <c>nick@tag</c> when another peer uses the same nick.</summary>
    public string SenderLabel => SenderTag is null ? SenderNick : $"{SenderNick}@{SenderTag}";

    /// <summary>True when it comes from the history (the store, or another peer's history), not live from the room.</summary>
    public bool FromHistory { get; init; }

    /// <summary>
    /// True when the author's time was implausible (far in the future, or before Echo existed) and
    /// <see cref="Timestamp"/> is when we received it instead (<see cref="MessageClock"/>); faces mark it.
    /// </summary>
    public bool ClockClamped { get; init; }

    /// <summary>True when the history store failed to keep it: it is shown, but will not be there after a restart.</summary>
    public bool NotSaved { get; init; }

    /// <summary>The peer that delivered it (the relay; the author itself when it came directly), when the network says; for the storage quota.</summary>
    public string? ReceivedFrom { get; init; }

    /// <summary>True for a <c>/me</c> action: faces show <c>* nick text</c> (<see cref="ChatAction"/>).</summary>
    public bool Action { get; init; }
}
