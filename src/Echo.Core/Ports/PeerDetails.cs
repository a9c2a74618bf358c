namespace Echo.Core.Ports;

/// <summary>One open connection to a peer, for /whois.</summary>
/// <param name="Address">The peer's address on this connection, with /p2p/.</param>
/// <param name="Inbound">True when the peer dialed us, false when we dialed it.</param>
/// <param name="Relayed">True when the connection runs through a relay rather than directly.</param>
/// <param name="OpenedAt">When the connection opened.</param>
public sealed record PeerConnectionDetails(string Address, bool Inbound, bool Relayed, DateTimeOffset OpenedAt);

/// <summary>What the network knows of one peer beyond <see cref="Peers.PeerInfo"/>, for /whois.</summary>
/// <param name="Connections">Its open connections (empty when it is not connected).</param>
/// <param name="Addresses">Where it can be reached: the addresses it reported and those remembered for it.</param>
/// <param name="FirstSeen">When we first connected to it, if the network remembers (the peer book), else null.</param>
public sealed record PeerDetails(IReadOnlyList<PeerConnectionDetails> Connections, IReadOnlyList<string> Addresses, DateTimeOffset? FirstSeen);

/// <summary>
/// Details of one peer for /whois. Implemented over libp2p by Echo.Protocols next to
/// <see cref="IChatNetwork"/>; without it /whois shows what the chat itself knows.
/// </summary>
public interface IPeerDetails
{
    /// <summary>What the network knows of <paramref name="peerId"/>, or null when nothing.</summary>
    PeerDetails? Describe(string peerId);
}

/// <summary>
/// A connected peer announced its away message (in its signed profile, <see cref="IProfileNetwork"/>),
/// or null when it is not away; sent with every profile it announces.
/// </summary>
public sealed record PeerAwayAnnounced(string PeerId, string? Reason) : NetworkEvent;
