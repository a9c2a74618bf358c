using Echo.Core.Files;

namespace Echo.Core.Ports;

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
