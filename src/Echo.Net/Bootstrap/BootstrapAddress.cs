using Echo.Net.DnsAddr;
using Echo.Net.Multiformats;

namespace Echo.Net.Bootstrap;

/// <summary>Checks a bootstrap address as the command line gives it (<c>--bootstrap</c>).</summary>
public static class BootstrapAddress
{
    /// <summary>
    /// Parses <paramref name="text"/> as a bootstrap peer: a <c>/dnsaddr/&lt;name&gt;</c> or a TCP
    /// address (<c>/ip4</c>, <c>/ip6</c>, <c>/dns*</c> with <c>/tcp</c>), ending in <c>/p2p/&lt;id&gt;</c>
    /// (a bootstrap peer is dialed by its id, so no one else can pose as it); or a bare
    /// <c>/dnsaddr/&lt;name&gt;</c>, whose records name the peers (each must end in <c>/p2p/&lt;id&gt;</c>).
    /// On failure <paramref name="error"/> says what is wrong.
    /// </summary>
    public static bool TryParse(string text, out Multiaddr? address, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!Multiaddr.TryParse(text, out address, out error) || address is null)
            return false;
        if (address.PeerId is null && !(DnsAddrResolver.IsDnsAddr(address) && address.Components.Count == 1))
        {
            error = "a bootstrap address must end in /p2p/<peer id> (only a bare /dnsaddr/<name> may leave it to its records)";
            address = null;
            return false;
        }
        Multiaddr transport = address.WithoutPeerId();
        bool dnsaddr = DnsAddrResolver.IsDnsAddr(transport) && transport.Components.Count == 1;
        if (!dnsaddr && !DnsAddrResolver.IsDialable(transport))
        {
            error = "not an address Echo can dial: use /dnsaddr/<name>, or /ip4, /ip6, /dns, /dns4 or /dns6 with /tcp/<port>";
            address = null;
            return false;
        }
        return true;
    }
}
