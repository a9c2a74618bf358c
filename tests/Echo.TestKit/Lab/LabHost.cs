namespace Echo.TestKit.Lab;

/// <summary>A host of the <see cref="NatLab"/>: its network namespace and its one IPv4 address.</summary>
/// <param name="Namespace">The network namespace (`ip netns exec Namespace …`).</param>
/// <param name="Address">The host's IPv4 address (on the lab's internet for a public host, on its LAN for a home).</param>
public sealed record LabHost(string Namespace, string Address);

/// <summary>How a <see cref="NatLab"/> home router maps its LAN's connections to its WAN address.</summary>
public enum NatKind
{
    /// <summary>MASQUERADE: endpoint-independent mapping, the source port kept when free (what hole punching needs).</summary>
    EndpointIndependent,

    /// <summary>MASQUERADE --random-fully: a fresh random port per destination ("symmetric" NAT; punching fails).</summary>
    Symmetric,
}

/// <summary>A home router of the <see cref="NatLab"/> and the one home host behind it.</summary>
/// <param name="Namespace">The router's network namespace (iptables rules and conntrack live there).</param>
/// <param name="WanAddress">The router's address on the lab's internet: what public hosts see as the source.</param>
/// <param name="LanAddress">The router's address on the home LAN (the home's gateway).</param>
/// <param name="Kind">The NAT behaviour.</param>
/// <param name="Home">The host behind the router.</param>
public sealed record LabRouter(string Namespace, string WanAddress, string LanAddress, NatKind Kind, LabHost Home);

/// <summary>What a <see cref="NatLab"/> starts while it is built.</summary>
public sealed record NatLabOptions
{
    /// <summary>js-libp2p public nodes to start (0 to 9; each on its own host, 10.200.0.1, .2, …). Default 4.</summary>
    public int JsNodes { get; init; } = 4;

    /// <summary>Whether the first js node also serves circuit relay v2. Default true.</summary>
    public bool FirstJsNodeIsRelay { get; init; } = true;

    /// <summary>How many js nodes, from the first, serve circuit relay v2; null: the first one when <see cref="FirstJsNodeIsRelay"/>.</summary>
    public int? JsRelays { get; init; }

    /// <summary>
    /// The js relays' data limit per circuit (<c>RELAY_DATA_LIMIT</c>; js counts both directions against
    /// it together); null: js's default, 131072.
    /// </summary>
    public long? RelayDataLimit { get; init; }

    /// <summary>
    /// How many js nodes, from the first, run their DHT as servers; the others are DHT clients (in no
    /// routing table, so a node under test does not learn their addresses from the DHT). Null: all.
    /// </summary>
    public int? JsDhtServers { get; init; }

    /// <summary>
    /// Whether the js nodes dial each other at start, so that each one's Kademlia routing table holds
    /// all the others before the lab is handed over (a DHT, not N lone servers). Default true.
    /// </summary>
    public bool ConnectJsNodes { get; init; } = true;

    /// <summary>The NAT of router A (in front of home A). Default endpoint-independent.</summary>
    public NatKind RouterA { get; init; } = NatKind.EndpointIndependent;

    /// <summary>The NAT of router B (in front of home B). Default endpoint-independent.</summary>
    public NatKind RouterB { get; init; } = NatKind.EndpointIndependent;
}
