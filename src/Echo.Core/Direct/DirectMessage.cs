namespace Echo.Core.Direct;

/// <summary>One direct (private) message, sent or received.</summary>
/// <param name="Id">Unique per message (32 hex digits chosen by the author); a resend carries the same id.</param>
/// <param name="PeerId">The other party: the author of a received message, the recipient of a sent one.</param>
/// <param name="Nick">The author's nick (ours for a sent message); never trusted for identity.</param>
/// <param name="Text">The text (at most 4 KiB).</param>
/// <param name="Timestamp">When the author wrote it.</param>
/// <param name="Outgoing">True for a message we sent.</param>
/// <param name="Delivered">For a sent message: the recipient acknowledged it. Received messages are delivered.</param>
public sealed record DirectMessage(
    string Id,
    string PeerId,
    string Nick,
    string Text,
    DateTimeOffset Timestamp,
    bool Outgoing,
    bool Delivered)
{
    /// <summary>True for a <c>/me</c> action: <see cref="Text"/> is the action alone, faces show <c>* nick text</c>.</summary>
    public bool Action { get; init; }

    /// <summary>True when the store failed to keep it: it is shown, but will not be there after a restart.</summary>
    public bool NotSaved { get; init; }
}
