namespace Echo.Protocols.History;

/// <summary>Settings of history sync (<c>/echo/history/1.0.0</c>), each with the reason for its default.</summary>
public sealed record HistorySyncOptions
{
    /// <summary>
    /// With a peer that answers only in time order (an older echo-chat), a new sync starts this long
    /// before where the last one ended: a message can reach the peer after newer ones (a late relay,
    /// a skewed clock). The ids we hold in that window are sent along, so it costs little on the
    /// wire. A peer that answers in its receive order needs no overlap: a late message comes later.
    /// </summary>
    public TimeSpan Overlap { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Besides on connect and on join, every room is synced with every connected peer this often: a
    /// message published before two peers' subscriptions met is heard by nobody live, and this is
    /// how it still arrives. A sync with nothing new costs one small request and answer.
    /// </summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Pages one sync run fetches at most (500 messages each); a longer history continues at the next connect or /join.</summary>
    public int MaxPagesPerSync { get; init; } = 1000;

    /// <summary>How long one page may take to arrive.</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>After this many forged or malformed messages from one peer, we stop syncing from it this session.</summary>
    public int MaxInvalidPerPeer { get; init; } = 10;

    /// <summary>Requests a peer may make at once before the rate applies.</summary>
    public int RequestBurst { get; init; } = 20;

    /// <summary>Requests per second a peer may make after its burst; more are told to retry later.</summary>
    public double RequestsPerSecond { get; init; } = 10;

    /// <summary>Requests one remote address (IPv4 address, IPv6 /56) may make at once, every peer id from it together.</summary>
    public int AddressRequestBurst { get; init; } = 40;

    /// <summary>Requests per second one remote address may make after its burst; fresh identities share it.</summary>
    public double AddressRequestsPerSecond { get; init; } = 20;

    /// <summary>
    /// Bytes of history served to one peer a minute (at least a page's worth at once): a newcomer
    /// syncing a long history gets it over a few minutes instead of in one rush.
    /// </summary>
    public long PeerBytesPerMinute { get; init; } = 16L * 1024 * 1024;

    /// <summary>Bytes of history served to one remote address a minute, every peer id from it together.</summary>
    public long AddressBytesPerMinute { get; init; } = 32L * 1024 * 1024;

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Overlap, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Interval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPagesPerSync, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ResponseTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInvalidPerPeer, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(RequestBurst, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RequestsPerSecond, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(AddressRequestBurst, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(AddressRequestsPerSecond, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(PeerBytesPerMinute, 64 * 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(AddressBytesPerMinute, 64 * 1024);
    }
}
