using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Relay;

/// <summary>Settings of a <see cref="RelayClient"/>, each with the reason for its default.</summary>
public sealed record RelayClientOptions
{
    /// <summary>
    /// Reservations kept at once: 2, go AutoRelay's <c>desiredRelays</c>; js relays hold only 15
    /// reservations, so one relay alone is easily full or gone.
    /// </summary>
    public int DesiredReservations { get; init; } = 2;

    /// <summary>
    /// Reserve whatever AutoNAT says (a lab without AutoNAT servers, tests); off, reservations are
    /// kept only while reachability is private.
    /// </summary>
    public bool ReserveAlways { get; init; }

    /// <summary>
    /// While AutoNAT has no verdict, a node that advertises a public address reserves only after this
    /// long (AutoNAT confirms a public node well within it); a node without one reserves at once, since
    /// nobody could dial it directly (a NAT whose AutoNAT servers are missing or silent).
    /// </summary>
    public TimeSpan UnknownReachabilityGrace { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A reservation is refreshed this long before it expires (go: 2 min, <c>rsvpExpirationSlack</c>),
    /// or halfway through its life when that is shorter.
    /// </summary>
    public TimeSpan RefreshBefore { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How often the manager looks again without an event (a lost relay is replaced at once on its
    /// disconnection; this bounds the wait for a candidate that appears quietly).
    /// </summary>
    public TimeSpan CheckInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A relay that refused or failed a reservation is not asked again for this long (go: 1 h; shorter for a chat).</summary>
    public TimeSpan FailureBackoff { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>One RESERVE or CONNECT exchange may take this long (js's hop timeout: 30 s).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Circuits one relay may bring us at once (go's relay allows 16 per peer).</summary>
    public int MaxCircuitsPerRelay { get; init; } = 16;

    /// <summary>Relay addresses kept from one reservation answer (each becomes a circuit address).</summary>
    public int MaxRelayAddresses { get; init; } = 8;

    /// <summary>
    /// Peers to try as relays before any other (the bootstrap peers): they qualify like every
    /// connected peer, once identify shows the hop protocol.
    /// </summary>
    public IReadOnlyList<PeerId> PreferredRelays { get; init; } = [];

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(DesiredReservations, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RefreshBefore, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(CheckInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(UnknownReachabilityGrace, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(FailureBackoff, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RequestTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxCircuitsPerRelay, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRelayAddresses, 1);
    }
}

/// <summary>A peer that may serve as a relay, with addresses to dial it at.</summary>
public sealed record RelayCandidate(PeerId Peer, IReadOnlyList<Multiaddr> Addresses);

/// <summary>
/// More relay candidates than the connected peers, e.g. the DHT's closest peers to our own id (kubo's
/// AutoRelay source). Asked when no connected peer can take a reservation.
/// </summary>
public interface IRelayCandidateSource
{
    /// <summary>Candidates to dial and ask, best first; an empty list when there are none now.</summary>
    ValueTask<IReadOnlyList<RelayCandidate>> GetCandidatesAsync(CancellationToken cancellationToken);
}
