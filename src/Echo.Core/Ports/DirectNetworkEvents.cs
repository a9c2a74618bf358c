using Echo.Core.Files;

namespace Echo.Core.Ports;

/// <summary>One direct frame to a peer: a text, a file offer, or both.</summary>
/// <param name="Id">The message id (32 hex digits); the peer acknowledges it.</param>
/// <param name="Nick">The sender's nick.</param>
/// <param name="Timestamp">When it was written.</param>
/// <param name="Text">The text, or null for a bare file offer.</param>
/// <param name="Offer">A file offered to the peer, or null.</param>
public sealed record DirectEnvelope(string Id, string Nick, DateTimeOffset Timestamp, string? Text, FileOffer? Offer)
{
    /// <summary>
    /// True for a <c>/me</c> action (<see cref="Chat.ChatAction"/>): <see cref="Text"/> is the action alone;
    /// on the wire it travels as the readable <c>* nick action</c> with a flag, as in rooms.
    /// </summary>
    public bool Action { get; init; }
}

/// <summary>
/// A direct frame from <paramref name="PeerId"/> arrived. The network acknowledges it on the wire
/// only once the chat settled <see cref="Receipt"/> as stored.
/// </summary>
public sealed record DirectArrived(string PeerId, DirectEnvelope Envelope) : NetworkEvent
{
    /// <summary>Settled by the chat when the message is stored (or refused); null when nobody waits for it.</summary>
    public DirectReceipt? Receipt { get; init; }
}

/// <summary>A file offer was announced in <paramref name="Room"/> by <paramref name="PeerId"/>.</summary>
public sealed record RoomFileOffered(string Room, string PeerId, string Nick, FileOffer Offer) : NetworkEvent;
