using System.Net;
using System.Net.Sockets;
using Echo.Net.Multiformats;

namespace Echo.Net.Mdns;

/// <summary>Which addresses we advertise and which advertised ones we are willing to dial.</summary>
public static class MdnsAddressFilter
{
    /// <summary>
    /// Whether we advertise <paramref name="address"/>: TCP over IPv4 or IPv6 and reachable from
    /// another machine, so not loopback, unspecified or an IPv6 link-local address (which would need
    /// a zone that means nothing to the receiver).
    /// </summary>
    public static bool IsAdvertisable(Multiaddr address) =>
        address.TryGetTcpEndPoint(out IPEndPoint? endPoint) && endPoint is not null && endPoint.Port != 0
        && !IPAddress.IsLoopback(endPoint.Address) && !IsUnusable(endPoint.Address) && !endPoint.Address.IsIPv6LinkLocal;

    /// <summary>
    /// The address to dial for an advertised <paramref name="address"/> that arrived from
    /// <paramref name="source"/> on interface <paramref name="interfaceIndex"/>, or null to ignore it.
    /// Unspecified, multicast and broadcast addresses are never dialed. A loopback address only means
    /// something when the sender is this machine (<paramref name="isLocalAddress"/> says whether the
    /// source is one of ours). An IPv6 link-local address gets the receiving interface as its zone.
    /// </summary>
    public static Multiaddr? Dialable(Multiaddr address, IPAddress source, int interfaceIndex, Func<IPAddress, bool> isLocalAddress)
    {
        if (!address.TryGetTcpEndPoint(out IPEndPoint? endPoint) || endPoint is null || endPoint.Port == 0)
            return null;
        IPAddress ip = endPoint.Address;
        if (IsUnusable(ip))
            return null;
        if (IPAddress.IsLoopback(ip))
            return IPAddress.IsLoopback(source) || isLocalAddress(source) ? address : null;
        if (ip.IsIPv6LinkLocal)
        {
            if (ip.ScopeId != 0)
                return address;
            if (interfaceIndex <= 0)
                return null;
            Multiaddr zoned = Multiaddr.Parse($"/ip6zone/{interfaceIndex}/ip6/{ip}/tcp/{endPoint.Port}");
            return address.PeerId is { } peer ? zoned.WithPeerId(peer) : zoned;
        }
        return address;
    }

    private static bool IsUnusable(IPAddress ip)
    {
        if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any) || ip.Equals(IPAddress.Broadcast) || ip.IsIPv6Multicast)
            return true;
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            byte first = ip.GetAddressBytes()[0];
            return first is 0 or >= 224;    // "this network", multicast, reserved
        }
        return false;
    }
}
