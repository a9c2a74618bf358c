using Echo.Net.Host;
using Echo.Net.Multiformats;

namespace Echo.Net.AutoNat;

/// <summary>When this node serves AutoNAT checks to other peers.</summary>
public enum AutoNatServerMode
{
    /// <summary>Only while this node is itself judged public (the spec's and go's rule).</summary>
    Auto,

    /// <summary>Always (a node known to be public, e.g. a lab's public node).</summary>
    On,

    /// <summary>Never.</summary>
    Off,
}

/// <summary>Settings of AutoNAT (client, server and reachability tracking), each with the reason for its default.</summary>
public sealed record AutoNatOptions
{
    /// <summary>
    /// Whether an address is worth checking (client) or may be dialed back (server); null: the host's
    /// <see cref="Addressing.AddressClassifier"/> says it is public (so <c>--public-range</c> counts).
    /// </summary>
    public Func<Multiaddr, bool>? IsPublic { get; init; }

    /// <summary>
    /// Whether a connection is limited (relayed): requests on one are refused, as both specs require.
    /// Null: the connection's own flag (<see cref="Connection.IsLimited"/>).
    /// </summary>
    public Func<Connection, bool>? IsLimited { get; init; }

    /// <summary>
    /// The addresses whose reachability is tracked; null: the host's trusted observed addresses
    /// (<see cref="Libp2pHost.ObservedAddresses"/>), then its listen addresses; either way only those
    /// <see cref="IsPublic"/> accepts are checked.
    /// </summary>
    public Func<IReadOnlyList<Multiaddr>>? Candidates { get; init; }

    /// <summary>When this node serves checks; see <see cref="AutoNatServerMode"/>.</summary>
    public AutoNatServerMode ServerMode { get; init; } = AutoNatServerMode.Auto;

    /// <summary>Checks served per minute in total (kubo's <c>AutoNAT.Throttle.GlobalLimit</c>).</summary>
    public int GlobalChecksPerMinute { get; init; } = 30;

    /// <summary>Checks served per minute to one peer (kubo's <c>AutoNAT.Throttle.PeerLimit</c>).</summary>
    public int PeerChecksPerMinute { get; init; } = 3;

    /// <summary>The least dial data the server asks for before dialing an IP other than the requester's (spec: 30-100 kB).</summary>
    public int MinDialDataBytes { get; init; } = 30_000;

    /// <summary>The most dial data the server asks for, and the most the client agrees to send.</summary>
    public int MaxDialDataBytes { get; init; } = 100_000;

    /// <summary>An address is public when more than this many servers confirm it, private when more than this many deny it (spec: 3).</summary>
    public int Threshold { get; init; } = 3;

    /// <summary>How often an address's results are renewed; a result older than twice this is forgotten.</summary>
    public TimeSpan RecheckInterval { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How often the tracker looks again while some address has no verdict yet (new servers may have come).</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>A whole check as the client sees it, dial-back and dial data included.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The server's dial back (TCP, Noise, yamux, then the nonce).</summary>
    public TimeSpan DialBackTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the client waits, after a response saying the dial back worked, for the dial back with
    /// its nonce (the two race on different connections); without it the response is discarded.
    /// </summary>
    public TimeSpan DialBackWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Checks the client runs at once.</summary>
    public int MaxConcurrentChecks { get; init; } = 4;

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(GlobalChecksPerMinute, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(PeerChecksPerMinute, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MinDialDataBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDialDataBytes, MinDialDataBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxDialDataBytes, AutoNatLimits.MaxDialDataBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(Threshold, 0);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RecheckInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RetryInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RequestTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(DialBackTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(DialBackWait, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentChecks, 1);
    }
}
