namespace Echo.Net.Mdns;

/// <summary>Settings of <see cref="MdnsDiscovery"/> and <see cref="MdnsAutoDialer"/>, each with the reason for its default.</summary>
public sealed record MdnsOptions
{
    /// <summary>The libp2p service name (discovery/mdns.md).</summary>
    public const string Libp2pService = "_p2p._udp.local";

    /// <summary>
    /// The service names we answer and browse. go-libp2p replaces <c>_p2p._udp</c> with an application
    /// tag, so echo-go (<c>echo-go-mdns</c>) and go-libp2p's pubsub chat example
    /// (<c>pubsub-chat-example</c>) only see, and are only seen under, their tags.
    /// </summary>
    public IReadOnlyList<string> ServiceNames { get; init; } =
        [Libp2pService, "echo-go-mdns.local", "pubsub-chat-example.local"];

    /// <summary>The UDP port (5353, RFC 6762). Tests may pick another one.</summary>
    public int Port { get; init; } = 5353;

    /// <summary>Use 224.0.0.251 on every IPv4 multicast interface.</summary>
    public bool IPv4 { get; init; } = true;

    /// <summary>Use ff02::fb on every IPv6 multicast interface.</summary>
    public bool IPv6 { get; init; } = true;

    /// <summary>
    /// Queries go out at start, then 1, 2, 4... s apart up to this interval (js-libp2p queries every
    /// 10 s); it also bounds how late a peer that missed our announcement sees us.
    /// </summary>
    public TimeSpan QueryInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The TTL of our records (120 s, as go and js use).</summary>
    public TimeSpan RecordTtl { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Records from others live at most this long, whatever TTL they carry.</summary>
    public TimeSpan MaxRecordTtl { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Peers remembered at once (docs/LIMITS.md, L-mdns-peers); a flood of fake peers cannot grow the table.</summary>
    public int MaxPeers { get; init; } = 64;

    /// <summary>Addresses kept per peer; also the most we advertise.</summary>
    public int MaxAddressesPerPeer { get; init; } = 12;

    /// <summary>
    /// Packets read per second on one interface (per address family), bursts of as many; the rest
    /// are dropped unread. It bounds what a flood costs whatever it holds and whoever it claims to
    /// be from (docs/LIMITS.md, L-mdns-rate): the costliest packet, an answer of 32 made-up peers, takes
    /// about 0.5 ms, so at most about 5 % of a core. A few dozen peers answering one query fit in
    /// the burst; an answer dropped in a larger crowd is heard at the next query.
    /// </summary>
    public int MaxPacketsPerSecond { get; init; } = 100;

    /// <summary>
    /// Packets read per second from one source address, bursts of as many: an honest node sends a
    /// few a second (answers at most once a second per service), so one flooding host cannot use
    /// up <see cref="MaxPacketsPerSecond"/> and hide the other peers.
    /// </summary>
    public int MaxPacketsPerSecondPerSource { get; init; } = 50;

    /// <summary>Dials of discovered peers running at once: no dial storms when many peers appear.</summary>
    public int MaxConcurrentDials { get; init; } = 3;

    /// <summary>
    /// Dials of discovered peers started per second (bursts up to as many): a flood of made-up
    /// peers at addresses that fail at once must not turn into a flood of dials. An offer beyond it
    /// is refused; the peer is offered again at its next answer.
    /// </summary>
    public int MaxDialsPerSecond { get; init; } = 10;

    /// <summary>The wait after a peer's first failed dial; it doubles with each further failure.</summary>
    public TimeSpan DialBackoff { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest wait between dials of a peer that keeps failing.</summary>
    public TimeSpan MaxDialBackoff { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long one dial of one discovered address may take.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        if (ServiceNames.Count == 0)
            throw new ArgumentException("at least one service name is needed", nameof(ServiceNames));
        ArgumentOutOfRangeException.ThrowIfNegative(Port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Port, 65535);
        if (!IPv4 && !IPv6)
            throw new ArgumentException("IPv4, IPv6 or both must be on", nameof(IPv4));
        ArgumentOutOfRangeException.ThrowIfLessThan(QueryInterval, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(RecordTtl, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRecordTtl, TimeSpan.FromSeconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPeers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAddressesPerPeer, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPacketsPerSecond, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPacketsPerSecondPerSource, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentDials, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDialsPerSecond, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(DialBackoff, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDialBackoff, DialBackoff);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(DialTimeout, TimeSpan.Zero);
    }
}
