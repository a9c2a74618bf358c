using Echo.Core.Files;

namespace Echo.Core.Ports;

/// <summary>A direct frame from <paramref name="PeerId"/> arrived (already acknowledged on the wire).</summary>
public sealed record DirectArrived(string PeerId, DirectEnvelope Envelope) : NetworkEvent;

/// <summary>A file offer was announced in <paramref name="Room"/> by <paramref name="PeerId"/>.</summary>
public sealed record RoomFileOffered(string Room, string PeerId, string Nick, FileOffer Offer) : NetworkEvent;
