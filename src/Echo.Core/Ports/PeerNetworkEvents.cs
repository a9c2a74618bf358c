namespace Echo.Core.Ports;

/// <summary>A remembered peer is away and will be dialed at <see cref="RememberedPeer.NextDial"/> (sent each time a redial is scheduled).</summary>
public sealed record PeerReconnecting(RememberedPeer Peer) : NetworkEvent;

/// <summary>A remembered peer was forgotten (by /forget, or unseen too long): no longer listed or redialed.</summary>
public sealed record PeerForgotten(string PeerId) : NetworkEvent;
