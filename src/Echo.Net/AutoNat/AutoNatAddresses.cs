using System.Net;
using System.Net.Sockets;
using Echo.Net.Host;
using Echo.Net.Multiformats;

namespace Echo.Net.AutoNat;

/// <summary>The small address rules AutoNAT needs until the host has address classes of its own.</summary>
public static class AutoNatAddresses
{
    /// <summary>
    /// True for a TCP address on a global unicast IP: not loopback, private (RFC 1918, ULA),
    /// shared (100.64/10), link-local, benchmarking, documentation, multicast or unspecified.
    /// Deliberately conservative: a wrong "public" makes a server dial into someone's LAN.
    /// </summary>
    public static bool IsPublicDefault(Multiaddr address) =>
        address.TryGetTcpEndPoint(out IPEndPoint? endPoint) && endPoint is not null && IsGlobal(endPoint.Address);

    /// <summary>Whether a connection's remote address goes through a relay (<c>/p2p-circuit</c>).</summary>
    public static bool IsCircuit(Connection connection) =>
        connection.RemoteAddress.Components.Any(c => ReferenceEquals(c.Protocol, MultiaddrProtocol.P2pCircuit));

    private static bool IsGlobal(IPAddress ip)
    {
        if (ip.IsIPv4MappedToIPv6)
            ip = ip.MapToIPv4();
        if (IPAddress.IsLoopback(ip))
            return false;
        if (ip.AddressFamily == AddressFamily.InterNetwork)
        {
            byte[] b = ip.GetAddressBytes();
            return !(b[0] is 0 or 10 or 127 or >= 224
                || (b[0] == 100 && (b[1] & 0xC0) == 64)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && (b[1] & 0xF0) == 16)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2)
                || (b[0] == 198 && (b[1] & 0xFE) == 18)
                || (b[0] == 198 && b[1] == 51 && b[2] == 100)
                || (b[0] == 203 && b[1] == 0 && b[2] == 113));
        }
        if (ip.AddressFamily != AddressFamily.InterNetworkV6)
            return false;
        byte[] v6 = ip.GetAddressBytes();
        // Global unicast is 2000::/3; inside it, 2001:db8::/32 is documentation.
        return (v6[0] & 0xE0) == 0x20 && !(v6[0] == 0x20 && v6[1] == 0x01 && v6[2] == 0x0d && v6[3] == 0xb8);
    }

    /// <summary>The IP of a TCP address, IPv4-mapped IPv6 folded to IPv4; null for any other address.</summary>
    internal static IPAddress? IpOf(Multiaddr address)
    {
        if (!address.TryGetTcpEndPoint(out IPEndPoint? endPoint) || endPoint is null)
            return null;
        return endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
    }
}
