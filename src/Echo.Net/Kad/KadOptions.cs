using Echo.Net.Multiformats;

namespace Echo.Net.Kad;

/// <summary>Settings of a <see cref="KadDht"/>, each with the reason for its default (docs/LIMITS.md lists the bounds).</summary>
public sealed class KadOptions
{
    /// <summary>
    /// Client or server regardless of reachability (<c>--dht-client</c>, <c>--dht-server</c>); null
    /// follows AutoNAT: server only while the host is confirmed public, client otherwise.
    /// </summary>
    public KadMode? ForcedMode { get; init; }

    /// <summary>k: peers per bucket, closer peers per answer and targets of a provide (spec, go and js: 20).</summary>
    public int BucketSize { get; init; } = 20;

    /// <summary>α: requests in flight per lookup (spec, go and js: 10).</summary>
    public int Alpha { get; init; } = 10;

    /// <summary>A lookup ends when this many of the closest peers it knows have answered (go's resiliency: 3).</summary>
    public int Resiliency { get; init; } = 3;

    /// <summary>One RPC, the dial included (go's and js's 10 s).</summary>
    public TimeSpan RpcTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A whole lookup, however many peers it asks.</summary>
    public TimeSpan LookupTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Peers one lookup queries at most, so a network of liars cannot keep it going.</summary>
    public int MaxPeersPerLookup { get; init; } = 200;

    /// <summary>How often the routing table is refreshed (go: 10 min).</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Below this many peers the table is refreshed early (go: 10), at most every <see cref="MinRefreshGap"/>.</summary>
    public int LowWaterMark { get; init; } = 10;

    /// <summary>The least time between two refreshes triggered by a low table.</summary>
    public TimeSpan MinRefreshGap { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a provider record is kept after it was received (spec, go and js: 48 h).</summary>
    public TimeSpan ProviderValidity { get; init; } = TimeSpan.FromHours(48);

    /// <summary>The largest message read or written (go's and js's 4 MiB); checked before anything is allocated.</summary>
    public int MaxMessageBytes { get; init; } = KadLimits.MaxMessageBytes;

    /// <summary>Requests served on one inbound stream before it is closed.</summary>
    public int MaxRequestsPerStream { get; init; } = 64;

    /// <summary>Inbound kad streams one peer may have open at once (server mode).</summary>
    public int MaxInboundStreamsPerPeer { get; init; } = 16;

    /// <summary>An inbound stream waiting longer than this for its next request is closed (go: 1 min).</summary>
    public TimeSpan StreamIdleTimeout { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Where server peers that answered are kept (owner-only JSON in the data directory) and dialed
    /// from on start when the table is empty; null keeps them for this run only.
    /// </summary>
    public string? PeerCachePath { get; init; }

    /// <summary>
    /// How long a start waits for a DHT peer (normally from the bootstrap peers) before dialing the
    /// peers of <see cref="PeerCachePath"/>.
    /// </summary>
    public TimeSpan PeerCacheDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Peers kept in <see cref="PeerCachePath"/>.</summary>
    public int MaxCachedPeers { get; init; } = 64;

    /// <summary>
    /// Which addresses of other peers are used (dialed, kept, passed on); null keeps every TCP address.
    /// The public network passes the host's classifier, so private addresses of strangers are skipped.
    /// </summary>
    public Func<Multiaddr, bool>? AddressFilter { get; init; }

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(BucketSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Alpha, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Resiliency, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RpcTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(LookupTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPeersPerLookup, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RefreshInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(LowWaterMark, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(MinRefreshGap, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ProviderValidity, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageBytes, 1024);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxMessageBytes, KadLimits.MaxMessageBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRequestsPerStream, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInboundStreamsPerPeer, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StreamIdleTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxCachedPeers, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(PeerCacheDelay, TimeSpan.Zero);
    }
}
