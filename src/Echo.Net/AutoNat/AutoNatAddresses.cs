using System.Net;
using Echo.Net.Multiformats;

namespace Echo.Net.AutoNat;

/// <summary>The small address helpers AutoNAT needs (which addresses count as public is the host's <see cref="Addressing.AddressClassifier"/>).</summary>
internal static class AutoNatAddresses
{
    /// <summary>The IP of a TCP address, IPv4-mapped IPv6 folded to IPv4; null for any other address.</summary>
    internal static IPAddress? IpOf(Multiaddr address)
    {
        if (!address.TryGetTcpEndPoint(out IPEndPoint? endPoint) || endPoint is null)
            return null;
        return endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
    }
}
