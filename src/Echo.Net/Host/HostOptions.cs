using Echo.Net.Multiformats;
using Echo.Net.ResourceManager;
using Echo.Net.Yamux;

namespace Echo.Net.Host;

/// <summary>Settings of a <see cref="Libp2pHost"/>, each with the reason for its default.</summary>
public sealed record HostOptions
{
    /// <summary>Where to listen; port 0 picks a free port. Empty = dial only.</summary>
    public IReadOnlyList<Multiaddr> ListenAddresses { get; init; } = [];

    /// <summary>Free text sent in identify; peers show it in their peer lists.</summary>
    public string AgentVersion { get; init; } = "echo/0.1.0";

    /// <summary>The value go and js send; identify peers compare nothing else.</summary>
    public string ProtocolVersion { get; init; } = "ipfs/0.1.0";

    /// <summary>TCP connect plus security and muxer upgrade for an outbound connection.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an inbound connection may take to finish Noise and yamux (a slowloris bound).</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Identify pushes from one peer are processed at most once per this interval; a sooner one is
    /// reset unread and counted (docs/LIMITS.md). Zero processes every push.
    /// </summary>
    public TimeSpan MinIdentifyPushInterval { get; init; } = Identify.IdentifyProtocol.MinPushInterval;

    /// <summary>How long protocol negotiation on a new stream may take; go-libp2p uses 10 s too.</summary>
    public TimeSpan StreamNegotiationTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Inbound connections at once, counted from accept (in their handshake or open): a hard limit;
    /// go's default for a small node.
    /// </summary>
    public int MaxInboundConnections { get; init; } = 64;

    /// <summary>Inbound connections still in their handshake; go's transient scope allows 32.</summary>
    public int MaxPendingInboundConnections { get; init; } = 32;

    /// <summary>Serve /perf/1.0.0. Off by default: the perf spec says public nodes should not.</summary>
    public bool EnablePerf { get; init; }

    public YamuxOptions Yamux { get; init; } = new();

    /// <summary>
    /// Process-wide budget for buffered inbound data (yamux receive windows), shared by all connections;
    /// a connection and a peer may each take a quarter of it. See <see cref="ResourceManager.MemoryBudget"/>.
    /// </summary>
    public long MemoryBudgetBytes { get; init; } = ResourceManager.MemoryBudget.DefaultLimitBytes;

    /// <summary>Per-address, stream, connection manager and descriptor limits (docs/LIMITS.md, "Resource manager").</summary>
    public ResourceLimits Limits { get; init; } = new();

    /// <summary>
    /// Run AutoNAT (reachability checks, and serving them while public): part of the public-network
    /// stack, off unless the user opts in to it. Settings in <see cref="AutoNat"/>.
    /// </summary>
    public bool EnableAutoNat { get; init; }

    /// <summary>AutoNAT's settings, used with <see cref="EnableAutoNat"/>.</summary>
    public AutoNat.AutoNatOptions AutoNat { get; init; } = new();

    /// <summary>
    /// Replace relayed connections by direct ones (DCUtR: a direct dial, else a coordinated TCP hole
    /// punch): part of the public-network stack, off unless the user opts in to it. Settings in <see cref="Dcutr"/>.
    /// </summary>
    public bool EnableDcutr { get; init; }

    /// <summary>DCUtR's settings, used with <see cref="EnableDcutr"/>; the relayed grace period applies always.</summary>
    public Dcutr.DcutrOptions Dcutr { get; init; } = new();

    /// <summary>
    /// Ranges that count as public whatever the built-in table says (<c>--public-range</c>), e.g. a test
    /// network's "internet" on a private range. See <see cref="Addressing.AddressClassifier"/>.
    /// </summary>
    public IReadOnlyList<System.Net.IPNetwork> PublicRanges { get; init; } = [];

    /// <summary>
    /// Distinct observers (IPv4 address or IPv6 /56) that must report an observed address before it is
    /// trusted as a candidate external address; go-libp2p uses 4. docs/LIMITS.md.
    /// </summary>
    public int ObservedAddressThreshold { get; init; } = DefaultObservedAddressThreshold;

    /// <summary>The default of <see cref="ObservedAddressThreshold"/>: go-libp2p's ActivationThresh.</summary>
    public const int DefaultObservedAddressThreshold = 4;

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInboundConnections, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ObservedAddressThreshold, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPendingInboundConnections, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(DialTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HandshakeTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StreamNegotiationTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MemoryBudgetBytes, YamuxOptions.InitialWindow);
        foreach (Multiaddr address in ListenAddresses)
            if (!Transport.Tcp.TcpTransport.CanHandle(address))
                throw new ArgumentException($"cannot listen on {address}: only TCP addresses are supported", nameof(ListenAddresses));
        Yamux.Validate();
        Limits.Validate();
        AutoNat.Validate();
        Dcutr.Validate();
    }
}
