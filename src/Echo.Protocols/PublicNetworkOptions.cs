using Echo.Net.Bootstrap;
using Echo.Net.Kad;
using Echo.Net.Relay;

namespace Echo.Protocols;

/// <summary>
/// The public-network stack (<c>--bootstrap</c>, <c>--public</c>): set, the node joins the libp2p
/// network beyond the LAN, starting from <see cref="Bootstrap"/>'s peers; null (the default), it
/// dials nothing it was not told to or did not find by mDNS. The parts that join the public network
/// (AutoNAT, the DHT, relays) are on exactly when this is set, and read their settings here.
/// </summary>
public sealed record PublicNetworkOptions
{
    /// <summary>The bootstrap peers and how they are resolved, dialed and remembered.</summary>
    public BootstrapOptions Bootstrap { get; init; } = new();

    /// <summary>The DHT's mode when forced (<c>--dht-server</c>, <c>--dht-client</c>); null follows AutoNAT.</summary>
    public KadMode? DhtMode { get; init; }

    /// <summary>Where the DHT keeps the servers that answered it (owner-only), dialed when a start finds no DHT peer; null: none.</summary>
    public string? DhtPeerCacheFile { get; init; }

    /// <summary>The relay client: reservations while AutoNAT says private, dialing relayed addresses.</summary>
    public RelayClientOptions Relay { get; init; } = new();

    /// <summary>The relay service: serves reservations and circuits while AutoNAT says public (<c>--no-relay-service</c>: off).</summary>
    public RelayServiceOptions RelayService { get; init; } = new();

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        if (Bootstrap.Peers.Count == 0)
            throw new ArgumentException("the public network needs at least one bootstrap peer", nameof(Bootstrap));
        Bootstrap.Validate();
        Relay.Validate();
        RelayService.Validate();
    }
}
