using System.Net;
using Echo.Net.Bootstrap;
using Echo.Net.DnsAddr;
using Echo.Net.Multiformats;

namespace Echo.Cli;

/// <summary>Opting in to the public network: --bootstrap, --public and --dns.</summary>
internal sealed partial record ChatSettings
{
    /// <summary>The error for <c>--dns</c> without a bootstrap list to resolve.</summary>
    internal const string DnsNeedsBootstrap = "--dns needs --bootstrap or --public (it is the resolver of their /dnsaddr names)";

    /// <summary>
    /// The bootstrap peers (--bootstrap, and with --public the built-in list); empty, the public
    /// network is off and Echo dials nothing it was not told to or did not find by mDNS.
    /// </summary>
    public IReadOnlyList<Multiaddr> Bootstrap { get; init; } = [];

    /// <summary>The DNS server for /dnsaddr lookups (--dns); null asks the system's resolvers.</summary>
    public IPEndPoint? DnsServer { get; init; }

    /// <summary>
    /// Whether the public-network stack is on (--bootstrap or --public): bootstrapping now, and what
    /// joins the public network with it (AutoNAT, the DHT, relays) reads this one flag.
    /// </summary>
    public bool PublicNetworkEnabled => Bootstrap.Count > 0;

    /// <summary>
    /// Applies --bootstrap (each a /dnsaddr or TCP multiaddr ending in /p2p/&lt;id&gt;), --public (the
    /// built-in list, <see cref="PublicBootstrapPeers"/>) and --dns; throws
    /// <see cref="ArgumentException"/> naming the bad option.
    /// </summary>
    public ChatSettings WithPublicNetwork(IReadOnlyList<string> bootstrap, bool builtIn, string? dns)
    {
        List<Multiaddr> peers = [];
        foreach (string text in bootstrap)
        {
            if (!BootstrapAddress.TryParse(text, out Multiaddr? address, out string? error))
                throw new ArgumentException($"--bootstrap {text}: {error}");
            if (!peers.Contains(address!))
                peers.Add(address!);
        }
        if (builtIn)
        {
            foreach (Multiaddr address in PublicBootstrapPeers.Multiaddrs)
            {
                if (!peers.Contains(address))
                    peers.Add(address);
            }
        }
        IPEndPoint? server = null;
        if (dns is not null)
        {
            if (peers.Count == 0)
                throw new ArgumentException(DnsNeedsBootstrap);
            try
            {
                server = DnsServerAddress.Parse(dns);
            }
            catch (FormatException e)
            {
                throw new ArgumentException($"--dns {e.Message}");
            }
        }
        return this with { Bootstrap = peers, DnsServer = server };
    }
}
