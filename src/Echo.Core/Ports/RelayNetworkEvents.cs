namespace Echo.Core.Ports;

/// <summary>
/// The connection a connected peer is reached on changed: upgraded from a relay to a direct one (a
/// hole punch, or the peer dialed us directly), or back to a relay. <paramref name="Address"/> is the
/// peer's address on the connection now used, with <c>/p2p/</c>.
/// </summary>
public sealed record PeerPathChanged(string PeerId, string Address, bool Relayed) : NetworkEvent;

/// <summary>
/// Why a connected peer is still reached through a relay, e.g. "hole punch failed after 3 attempts,
/// symmetric NAT suspected" (shown by /peers and /whois until the peer gets a direct connection).
/// </summary>
public sealed record PeerRelayReason(string PeerId, string Reason) : NetworkEvent;

/// <summary>The relays this node holds a reservation on changed (each a relay's peer id or address); empty for none.</summary>
public sealed record RelaysChanged(IReadOnlyList<string> Relays) : NetworkEvent
{
    /// <summary>The reservations behind <see cref="Relays"/>, with their limits (empty when not known).</summary>
    public IReadOnlyList<RelayReservationInfo> Reservations { get; init; } = [];
}

/// <summary>
/// The relays in use, for a network that can be reached through relays. Implemented over libp2p by
/// Echo.Protocols next to <see cref="IChatNetwork"/>; it reports every change as <see cref="RelaysChanged"/>.
/// </summary>
public interface IRelayStatus
{
    /// <summary>The relays this node holds a reservation on now; empty for none.</summary>
    IReadOnlyList<string> RelaysInUse { get; }
}
