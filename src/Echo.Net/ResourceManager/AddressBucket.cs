using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Echo.Net.ResourceManager;

/// <summary>
/// What the per-address limits count as one address: an IPv4 address (an IPv4-mapped IPv6 address
/// is its IPv4 address), or an IPv6 prefix of a given length.
/// </summary>
internal readonly record struct AddressBucket(AddressFamily Family, ulong Prefix, int PrefixLength)
{
    public static AddressBucket Of(IPAddress address, int ipv6PrefixLength)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
            throw new ArgumentException($"{address} cannot be written as bytes", nameof(address));
        if (address.AddressFamily == AddressFamily.InterNetwork)
            return new AddressBucket(AddressFamily.InterNetwork, BinaryPrimitives.ReadUInt32BigEndian(bytes[..written]), 32);
        ulong high = BinaryPrimitives.ReadUInt64BigEndian(bytes[..8]);
        ulong mask = ipv6PrefixLength >= 64 ? ulong.MaxValue : ~(ulong.MaxValue >> ipv6PrefixLength);
        return new AddressBucket(AddressFamily.InterNetworkV6, high & mask, ipv6PrefixLength);
    }

    /// <summary>Whether <paramref name="address"/> is loopback, also as an IPv4-mapped IPv6 address.</summary>
    public static bool IsLoopback(IPAddress address) =>
        IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    public override string ToString()
    {
        if (Family == AddressFamily.InterNetwork)
        {
            Span<byte> v4 = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(v4, (uint)Prefix);
            return new IPAddress(v4).ToString();
        }
        Span<byte> v6 = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(v6, Prefix);
        return new IPAddress(v6) + "/" + PrefixLength.ToString(CultureInfo.InvariantCulture);
    }
}
