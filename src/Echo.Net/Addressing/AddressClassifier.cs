using System.Net;
using System.Net.Sockets;
using Echo.Net.Multiformats;

namespace Echo.Net.Addressing;

/// <summary>
/// Sorts multiaddrs into <see cref="AddressClass"/>es. Ranges given as public (<c>--public-range</c>,
/// <see cref="Host.HostOptions.PublicRanges"/>) win over the built-in table, so a test network on a
/// private range can play the internet; a <c>/p2p-circuit</c> address is always
/// <see cref="AddressClass.Circuit"/>.
/// </summary>
/// <remarks>
/// Private covers what js-libp2p treats as private for identify, AutoNAT and DCUtR (RFC 1918,
/// 100.64/10, the TEST-NETs, 198.18/15, multicast, reserved), so both agree on what to trust.
/// </remarks>
public sealed class AddressClassifier
{
    private static readonly IPNetwork[] LoopbackRanges = [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")];

    private static readonly IPNetwork[] LinkLocalRanges = [IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("fe80::/10")];

    private static readonly IPNetwork[] PrivateRanges =
    [
        IPNetwork.Parse("0.0.0.0/8"),            // "this network", unspecified
        IPNetwork.Parse("10.0.0.0/8"),           // RFC 1918
        IPNetwork.Parse("100.64.0.0/10"),        // carrier-grade NAT (RFC 6598)
        IPNetwork.Parse("172.16.0.0/12"),        // RFC 1918
        IPNetwork.Parse("192.0.0.0/24"),         // IETF protocol assignments
        IPNetwork.Parse("192.0.2.0/24"),         // TEST-NET-1
        IPNetwork.Parse("192.168.0.0/16"),       // RFC 1918
        IPNetwork.Parse("198.18.0.0/15"),        // benchmarking
        IPNetwork.Parse("198.51.100.0/24"),      // TEST-NET-2
        IPNetwork.Parse("203.0.113.0/24"),       // TEST-NET-3
        IPNetwork.Parse("224.0.0.0/3"),          // multicast, reserved, broadcast
        IPNetwork.Parse("::/128"),               // unspecified
        IPNetwork.Parse("64:ff9b:1::/48"),       // local-use NAT64
        IPNetwork.Parse("100::/64"),             // discard
        IPNetwork.Parse("2001:db8::/32"),        // documentation
        IPNetwork.Parse("fc00::/7"),             // unique local
        IPNetwork.Parse("ff00::/8"),             // multicast
    ];

    /// <summary>The classifier with the built-in table only.</summary>
    public static AddressClassifier Default { get; } = new([]);

    public AddressClassifier(IReadOnlyList<IPNetwork> publicRanges)
    {
        PublicRanges = [.. publicRanges];
    }

    /// <summary>Ranges counted as <see cref="AddressClass.Public"/> whatever the built-in table says.</summary>
    public IReadOnlyList<IPNetwork> PublicRanges { get; }

    /// <summary>
    /// The class of <paramref name="address"/>: <see cref="AddressClass.Circuit"/> when it goes through a
    /// relay, the class of its IP when it starts with one, <see cref="AddressClass.Public"/> for a DNS name
    /// (resolving it would be a lookup), <see cref="AddressClass.Private"/> for anything else (unix sockets...).
    /// </summary>
    public AddressClass Classify(Multiaddr address)
    {
        ArgumentNullException.ThrowIfNull(address);
        IReadOnlyList<MultiaddrComponent> components = address.Components;
        foreach (MultiaddrComponent component in components)
            if (ReferenceEquals(component.Protocol, MultiaddrProtocol.P2pCircuit))
                return AddressClass.Circuit;
        foreach (MultiaddrComponent component in components)
        {
            if (ReferenceEquals(component.Protocol, MultiaddrProtocol.Ip4) || ReferenceEquals(component.Protocol, MultiaddrProtocol.Ip6))
                return Classify(new IPAddress(component.Value!));
            if (ReferenceEquals(component.Protocol, MultiaddrProtocol.Dns) || ReferenceEquals(component.Protocol, MultiaddrProtocol.Dns4)
                || ReferenceEquals(component.Protocol, MultiaddrProtocol.Dns6) || ReferenceEquals(component.Protocol, MultiaddrProtocol.DnsAddr))
                return IsLocalName(component.ValueText!) ? AddressClass.Loopback : AddressClass.Public;
            if (!ReferenceEquals(component.Protocol, MultiaddrProtocol.Ip6Zone))
                break;
        }
        return AddressClass.Private;
    }

    /// <summary>The class of an IP address (an IPv4-mapped IPv6 address is classed as its IPv4 address).</summary>
    public AddressClass Classify(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0)
            address = new IPAddress(address.GetAddressBytes());
        foreach (IPNetwork range in PublicRanges)
            if (range.Contains(address))
                return AddressClass.Public;
        if (In(LoopbackRanges, address))
            return AddressClass.Loopback;
        if (In(LinkLocalRanges, address))
            return AddressClass.LinkLocal;
        if (In(PrivateRanges, address))
            return AddressClass.Private;
        // IPv6: only global unicast (2000::/3) is public; IPv4 compatible or other odd forms are not.
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && (address.GetAddressBytes()[0] & 0xE0) != 0x20)
            return AddressClass.Private;
        return AddressClass.Public;
    }

    /// <summary>True when <paramref name="address"/> is <see cref="AddressClass.Public"/>.</summary>
    public bool IsPublic(Multiaddr address) => Classify(address) == AddressClass.Public;

    private static bool In(IPNetwork[] ranges, IPAddress address)
    {
        foreach (IPNetwork range in ranges)
            if (range.Contains(address))
                return true;
        return false;
    }

    private static bool IsLocalName(string name) =>
        name.Equals("localhost", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);
}
