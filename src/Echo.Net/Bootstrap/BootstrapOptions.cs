using System.Net;
using Echo.Net.DnsAddr;
using Echo.Net.Host;
using Echo.Net.Multiformats;

namespace Echo.Net.Bootstrap;

/// <summary>Settings of a <see cref="Bootstrapper"/>, each with the reason for its default.</summary>
public sealed record BootstrapOptions
{
    /// <summary>
    /// The bootstrap peers: each a <c>/dnsaddr</c> or TCP address ending in <c>/p2p/&lt;id&gt;</c>
    /// (<see cref="BootstrapAddress.TryParse"/>); several addresses of one peer are tried in turn.
    /// </summary>
    public IReadOnlyList<Multiaddr> Peers { get; init; } = [];

    /// <summary>
    /// Where the addresses that reached a bootstrap peer are kept (owner-only), so that a DNS or
    /// bootstrap-list outage does not strand the node; null keeps them for this run only.
    /// </summary>
    public string? StateFile { get; init; }

    /// <summary>The resolver for <c>/dnsaddr</c> TXT lookups (<c>--dns</c>); null asks the system's.</summary>
    public IPEndPoint? DnsServer { get; init; }

    /// <summary>How long one TXT query may wait for its answer (each try).</summary>
    public TimeSpan DnsQueryTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Bounds of one <c>/dnsaddr</c> resolution.</summary>
    public DnsAddrOptions DnsAddr { get; init; } = new();

    /// <summary>
    /// The back-off between dials of a bootstrap peer that did not answer, and the bound on dials at
    /// once (4: a long list does not open a storm of sockets).
    /// </summary>
    public RedialOptions Redial { get; init; } = new();

    /// <summary>
    /// A bootstrap peer that disconnects is dialed again (with back-off) while fewer than this many are
    /// connected; kubo keeps 4 bootstrap connections the same way.
    /// </summary>
    public int MinConnected { get; init; } = 4;

    /// <summary>Addresses tried per dial of one peer, resolved and remembered together.</summary>
    public int MaxAddressesPerDial { get; init; } = 16;

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        foreach (Multiaddr peer in Peers)
        {
            if (!BootstrapAddress.TryParse(peer.ToString(), out _, out string? error))
                throw new ArgumentException($"bootstrap peer {peer}: {error}", nameof(Peers));
        }
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(DnsQueryTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MinConnected, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAddressesPerDial, 1);
        DnsAddr.Validate();
        Redial.Validate();
    }
}
