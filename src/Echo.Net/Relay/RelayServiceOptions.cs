namespace Echo.Net.Relay;

/// <summary>When the relay service (<see cref="RelayService"/>) serves.</summary>
public enum RelayServiceMode
{
    /// <summary>Never (<c>--no-relay-service</c>).</summary>
    Off,

    /// <summary>While AutoNAT says we are public, as go and kubo do (<c>relaysvc</c>).</summary>
    Auto,

    /// <summary>From the start, whatever AutoNAT says (a node known to be public; tests).</summary>
    On,
}

/// <summary>
/// Settings of the <see cref="RelayService"/>: go-libp2p's defaults (<c>circuitv2/relay/resources.go</c>,
/// kubo's <c>Swarm.RelayService</c>), so a relay for coordination and short text, not for bulk data.
/// </summary>
public sealed record RelayServiceOptions
{
    /// <summary>When to serve.</summary>
    public RelayServiceMode Mode { get; init; } = RelayServiceMode.Auto;

    /// <summary>How long a reservation lasts without a refresh: 1 h (go, kubo).</summary>
    public TimeSpan ReservationTtl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Reservations held at once: 128 (go, kubo).</summary>
    public int MaxReservations { get; init; } = 128;

    /// <summary>
    /// Reservations from one IP address: 8 (go's <c>MaxReservationsPerIP</c>). go also caps 32 per
    /// ASN; Echo has no ASN table and does not.
    /// </summary>
    public int MaxReservationsPerIp { get; init; } = 8;

    /// <summary>Circuits one peer may be part of at once, as source or destination: 16 (go's <c>MaxCircuits</c>).</summary>
    public int MaxCircuitsPerPeer { get; init; } = 16;

    /// <summary>
    /// Circuits at once, all peers together: 256. Each holds two yamux streams whose buffers count in
    /// the host's memory budget; this bounds the streams and copy loops.
    /// </summary>
    public int MaxCircuits { get; init; } = 256;

    /// <summary>A circuit is cut after this long: 2 min (go, kubo, js).</summary>
    public TimeSpan CircuitDuration { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>A circuit is cut after this many bytes in either direction: 128 KiB (go, kubo, js).</summary>
    public long CircuitDataBytes { get; init; } = 1 << 17;

    /// <summary>The exchange with the destination (stop CONNECT and its answer), and reading a hop request, may take this long (js: 30 s).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Our addresses put in a reservation answer.</summary>
    public int MaxAddresses { get; init; } = 8;

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ReservationTtl, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxReservations, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxReservationsPerIp, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxCircuitsPerPeer, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxCircuits, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(CircuitDuration, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(CircuitDataBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ConnectTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAddresses, 1);
    }
}
