namespace Echo.Net.Host;

/// <summary>How <see cref="Libp2pHost.DialAsync(Multiformats.Multiaddr, DialOptions, CancellationToken)"/> dials.</summary>
public sealed record DialOptions
{
    /// <summary>The default: dial from the listening port when possible.</summary>
    public static DialOptions Default { get; } = new();

    /// <summary>
    /// Dial from our listening port (SO_REUSEPORT), so the peer and any NAT see the port we can be
    /// dialed on; falls back to an ephemeral port when that port cannot be used for this peer. Off for
    /// AutoNAT dial-backs, which must not punch a hole (autonat-v2 "Implementation Suggestions").
    /// </summary>
    public bool ReusePort { get; init; } = true;

    /// <summary>
    /// Dial a new connection even when a limited (relayed) one to the peer is open: a circuit near its
    /// relay's limits is replaced by a new one before the relay cuts it. The new connection replaces the old.
    /// </summary>
    public bool NewCircuit { get; init; }
}
