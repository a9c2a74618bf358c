using Echo.Net.Multiformats;

namespace Echo.Net.Bootstrap;

/// <summary>
/// The built-in bootstrap list that <c>--public</c> dials: the public Amino DHT's bootstrappers, as
/// go-libp2p-kad-dht (<c>dht_bootstrap.go</c>) and kubo ship them, TCP-reachable entries only (the
/// QUIC-only address of mars.i.ipfs.io is left out: Echo does not speak QUIC).
/// </summary>
/// <remarks>
/// Nothing dials these unless the user asked for the public network: without <c>--public</c> (or
/// <c>--bootstrap</c>) Echo dials only what it was told to or found by mDNS. No test may dial them.
/// </remarks>
public static class PublicBootstrapPeers
{
    /// <summary>The addresses, as text.</summary>
    public static IReadOnlyList<string> Addresses { get; } =
    [
        "/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN",
        "/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa",
        "/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb",
        "/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt",
        "/dnsaddr/va1.bootstrap.libp2p.io/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8",
        "/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
    ];

    /// <summary>The addresses, parsed.</summary>
    public static IReadOnlyList<Multiaddr> Multiaddrs { get; } = [.. Addresses.Select(Multiaddr.Parse)];
}
