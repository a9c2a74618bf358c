namespace Echo.Net.ResourceManager;

/// <summary>
/// The connection, stream and descriptor limits of a <see cref="Host.Libp2pHost"/> (docs/LIMITS.md, "Resource
/// manager"), each with the reason for its default. The inbound total and the handshake total are
/// <see cref="Host.HostOptions.MaxInboundConnections"/> and <see cref="Host.HostOptions.MaxPendingInboundConnections"/>.
/// </summary>
public sealed record ResourceLimits
{
    /// <summary>
    /// Inbound connections (in their handshake or open) from one IPv4 address or one IPv6 prefix of
    /// <see cref="Ipv6PrefixLength"/> bits; go-libp2p's resource manager allows 8 per IPv4 address.
    /// </summary>
    public int MaxConnectionsPerAddress { get; init; } = 8;

    /// <summary>Inbound connections still in their handshake from one address: a slowloris from one host keeps the rest free.</summary>
    public int MaxPendingPerAddress { get; init; } = 4;

    /// <summary>The IPv6 prefix counted as one address; a /56 is what one home or site usually gets (go counts /56 too).</summary>
    public int Ipv6PrefixLength { get; init; } = 56;

    /// <summary>
    /// Loopback connections (127.0.0.0/8, ::1) are not counted per address: local tests and tools
    /// open many; they still count toward the inbound total. Every other address is counted.
    /// </summary>
    public bool ExemptLoopback { get; init; } = true;

    /// <summary>
    /// Inbound streams one peer may have open at once for a protocol registered without a limit of
    /// its own: a quarter of what yamux allows a connection (256), so one protocol cannot take them all.
    /// </summary>
    public int DefaultInboundStreamsPerProtocol { get; init; } = 64;

    /// <summary>Connections above which the connection manager trims (go's connmgr trims past a high watermark too).</summary>
    public int HighWatermark { get; init; } = 96;

    /// <summary>Connections the connection manager trims down to.</summary>
    public int LowWatermark { get; init; } = 64;

    /// <summary>A connection younger than this is never trimmed (go's connmgr: one minute).</summary>
    public TimeSpan GracePeriod { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the connection manager looks for connections to trim besides on every new connection (go: 10 s).</summary>
    public TimeSpan TrimInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Descriptors of <c>RLIMIT_NOFILE</c> kept out of the budget for connections and served files:
    /// the runtime, the database, logs and the web UI need their own (a fresh node holds about 150).
    /// The budget is the limit minus the larger of this and a quarter of the limit.
    /// </summary>
    public int ReservedDescriptors { get; init; } = 256;

    /// <summary>Overrides the descriptor limit read from <c>RLIMIT_NOFILE</c> (tests); null reads it.</summary>
    public long? DescriptorLimit { get; init; }

    /// <summary>
    /// Provider records a DHT server holds in all (<see cref="ProviderRecordScope"/>): about 300 bytes
    /// each with its addresses, so at most about 6 MB.
    /// </summary>
    public int MaxProviderRecords { get; init; } = 20_000;

    /// <summary>Provider records one provider peer may have stored here: one peer cannot fill the store.</summary>
    public int MaxProviderRecordsPerPeer { get; init; } = 256;

    /// <summary>Providers kept per key; a GET_PROVIDERS answer holds at most this many.</summary>
    public int MaxProvidersPerKey { get; init; } = 64;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for a value that cannot work.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConnectionsPerAddress, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPendingPerAddress, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Ipv6PrefixLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Ipv6PrefixLength, 64);
        ArgumentOutOfRangeException.ThrowIfLessThan(DefaultInboundStreamsPerProtocol, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(LowWatermark, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(HighWatermark, LowWatermark);
        ArgumentOutOfRangeException.ThrowIfLessThan(GracePeriod, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(TrimInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(ReservedDescriptors, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxProviderRecords, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxProviderRecordsPerPeer, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxProvidersPerKey, 1);
        if (DescriptorLimit is { } limit)
            ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1, nameof(DescriptorLimit));
    }
}
