using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Echo.Net.Identity;

namespace Echo.Net.Multiformats;

/// <summary>
/// A self-describing network address (https://github.com/multiformats/multiaddr, used by libp2p as
/// described in https://github.com/libp2p/specs/blob/master/addressing/README.md), such as
/// <c>/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...</c>. Immutable; equal when the binary forms are equal.
/// </summary>
/// <remarks>
/// <para>
/// An address is a list of components, parsed left to right and interpreted right to left: each wraps
/// what is on its left (<c>/p2p/&lt;id&gt;</c> at the end names the peer expected at that address).
/// Text is <c>(/name[/value])+</c>; binary, which identify and the DHT carry, is:
/// </para>
/// <code>
///   uvarint(code) || value                 fixed-size value (ip4: 4 bytes, ip6: 16, tcp/udp: 2, big-endian)
///   uvarint(code) || uvarint(len) || value variable-size value (dns names, p2p peer ids, ...)
///   uvarint(code)                          protocols without a value (ws, quic-v1, p2p-circuit, ...)
///
///   /ip4/192.0.2.42/tcp/443  &lt;=&gt;  04 c000022a 06 01bb
/// </code>
/// <para>
/// Parsing is strict and bounded: at most <see cref="MaxTextLength"/> characters,
/// <see cref="MaxByteLength"/> bytes and <see cref="MaxComponents"/> components, and every instance
/// fits all three limits, so <see cref="ToString"/> and <see cref="ToBytes"/> always parse back to an
/// equal address. An unknown protocol makes the whole address unparseable (in binary its value size is
/// unknown); callers drop such an address rather than the message that carried it.
/// </para>
/// </remarks>
public sealed class Multiaddr : IEquatable<Multiaddr>
{
    public const int MaxTextLength = 1024;
    public const int MaxByteLength = 1024;
    public const int MaxComponents = 32;

    private readonly MultiaddrComponent[] _components;
    private readonly byte[] _bytes;
    private readonly string _text;
    private readonly int _hash;
    private PeerId? _peerId;

    internal Multiaddr(MultiaddrComponent[] components, byte[] bytes, string text)
    {
        _components = components;
        _bytes = bytes;
        _text = text;
        HashCode hash = new();
        hash.AddBytes(bytes);
        _hash = hash.ToHashCode();
        Components = new ReadOnlyCollection<MultiaddrComponent>(components);
    }

    /// <summary>
    /// The address without components, which only <see cref="Decapsulate(string)"/> and
    /// <see cref="WithoutPeerId"/> produce; prints as <c>/</c>. Parsing never returns it: an empty
    /// address from text or from a peer is refused.
    /// </summary>
    public static Multiaddr Empty { get; } = new([], [], "/");

    public IReadOnlyList<MultiaddrComponent> Components { get; }

    public bool IsEmpty => _components.Length == 0;

    /// <summary>The binary form, without copying.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <exception cref="MultiaddrFormatException">The text is not a valid multiaddr; the message says where.</exception>
    public static Multiaddr Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (MultiaddrCodec.TryParseText(text, out Multiaddr? result) is { } error)
            throw MultiaddrFormatException.FromText(text, error);
        return result!;
    }

    public static bool TryParse(string? text, out Multiaddr? result) => TryParse(text, out result, out _);

    /// <summary>Parses text; on failure <paramref name="error"/> names the bad part and its position.</summary>
    public static bool TryParse(string? text, out Multiaddr? result, out string? error)
    {
        error = null;
        if (text is null)
        {
            result = null;
            error = "invalid multiaddr: null";
            return false;
        }
        if (MultiaddrCodec.TryParseText(text, out result) is { } failure)
        {
            error = MultiaddrFormatException.DescribeText(text, failure);
            return false;
        }
        return true;
    }

    /// <exception cref="MultiaddrFormatException">The bytes are not a valid multiaddr; the message says where.</exception>
    public static Multiaddr FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (MultiaddrCodec.TryParseBinary(bytes, out Multiaddr? result) is { } error)
            throw MultiaddrFormatException.FromBinary(bytes, error);
        return result!;
    }

    /// <summary>Like <see cref="FromBytes"/> without the exception, for lists where bad entries are dropped.</summary>
    public static bool TryFromBytes(ReadOnlySpan<byte> bytes, out Multiaddr? result, out string? error)
    {
        error = null;
        if (MultiaddrCodec.TryParseBinary(bytes, out result) is { } failure)
        {
            error = MultiaddrFormatException.DescribeBinary(bytes, failure);
            return false;
        }
        return true;
    }

    /// <summary>The canonical IPv4 or IPv6 TCP address of an endpoint; IPv4-mapped IPv6 becomes <c>/ip4</c>, a scope id <c>/ip6zone</c>.</summary>
    public static Multiaddr FromTcpEndPoint(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        IPAddress address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        List<MultiaddrComponent> components = new(3);
        switch (address.AddressFamily)
        {
            case AddressFamily.InterNetwork:
                components.Add(new(MultiaddrProtocol.Ip4, address.GetAddressBytes()));
                break;
            case AddressFamily.InterNetworkV6:
                if (address.ScopeId != 0)
                {
                    byte[] zone = System.Text.Encoding.ASCII.GetBytes(address.ScopeId.ToString(CultureInfo.InvariantCulture));
                    components.Add(new(MultiaddrProtocol.Ip6Zone, zone));
                }
                components.Add(new(MultiaddrProtocol.Ip6, address.GetAddressBytes()));
                break;
            default:
                throw new ArgumentException($"not an IP endpoint: {address.AddressFamily}", nameof(endPoint));
        }
        byte[] port = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(port, (ushort)endPoint.Port);
        components.Add(new(MultiaddrProtocol.Tcp, port));
        return Create([.. components]);
    }

    /// <summary>A copy of the binary form.</summary>
    public byte[] ToBytes() => (byte[])_bytes.Clone();

    /// <summary>The canonical text form (<c>/p2p</c> not <c>/ipfs</c>, RFC 5952 IPv6, base58 peer ids).</summary>
    public override string ToString() => _text;

    /// <summary>This address followed by <paramref name="other"/>.</summary>
    /// <exception cref="MultiaddrFormatException">The result would exceed a length or component limit.</exception>
    public Multiaddr Encapsulate(Multiaddr other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.IsEmpty)
            return this;
        if (IsEmpty)
            return other;
        return Create([.. _components, .. other._components]);
    }

    /// <summary>
    /// Drops the last occurrence of <paramref name="protocolName"/> and everything after it
    /// (<c>/ip4/1.2.3.4/tcp/1/ws</c> without <c>tcp</c> is <c>/ip4/1.2.3.4</c>); unchanged when absent.
    /// </summary>
    public Multiaddr Decapsulate(string protocolName)
    {
        ArgumentNullException.ThrowIfNull(protocolName);
        if (!MultiaddrProtocol.TryGetByName(protocolName, out MultiaddrProtocol? protocol))
            throw new ArgumentException($"unknown multiaddr protocol \"{protocolName}\"", nameof(protocolName));
        for (int i = _components.Length - 1; i >= 0; i--)
        {
            if (ReferenceEquals(_components[i].Protocol, protocol))
                return Create(_components[..i]);
        }
        return this;
    }

    /// <summary>Drops the last occurrence of the components of <paramref name="other"/> and everything after it; unchanged when absent.</summary>
    public Multiaddr Decapsulate(Multiaddr other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.IsEmpty)
            return this;
        for (int i = _components.Length - other._components.Length; i >= 0; i--)
        {
            if (_components.AsSpan(i, other._components.Length).SequenceEqual(other._components))
                return Create(_components[..i]);
        }
        return this;
    }

    /// <summary>
    /// The peer named by a trailing <c>/p2p/&lt;id&gt;</c> (in a relayed address
    /// <c>.../p2p/R/p2p-circuit/p2p/D</c>, D), or null when the address does not end in <c>/p2p</c>
    /// (<c>.../p2p/R/p2p-circuit</c> is not R's own address).
    /// </summary>
    public PeerId? PeerId
    {
        get
        {
            if (_peerId is null && _components.Length > 0 && ReferenceEquals(_components[^1].Protocol, MultiaddrProtocol.P2p))
                _peerId = Identity.PeerId.FromBytes(_components[^1].Value);
            return _peerId;
        }
    }

    /// <summary>This address without its trailing <c>/p2p/&lt;id&gt;</c>, if any.</summary>
    public Multiaddr WithoutPeerId() => PeerId is null ? this : Create(_components[..^1]);

    /// <summary>This address ending in <c>/p2p/&lt;id&gt;</c>: appended, or replacing a trailing <c>/p2p</c> that names another peer.</summary>
    /// <exception cref="MultiaddrFormatException">The result would exceed a length or component limit.</exception>
    public Multiaddr WithPeerId(PeerId id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (id.Equals(PeerId))
            return this;
        MultiaddrComponent[] transport = PeerId is null ? _components : _components[..^1];
        return Create([.. transport, new MultiaddrComponent(MultiaddrProtocol.P2p, id.ToBytes())]);
    }

    /// <summary>
    /// For <c>/ip4/&lt;a&gt;/tcp/&lt;port&gt;</c> or <c>[/ip6zone/&lt;n&gt;]/ip6/&lt;a&gt;/tcp/&lt;port&gt;</c>, optionally
    /// followed by <c>/p2p/&lt;id&gt;</c>, the endpoint to connect to. A zone must be a numeric scope id.
    /// </summary>
    public bool TryGetTcpEndPoint(out IPEndPoint? endPoint)
    {
        endPoint = null;
        ReadOnlySpan<MultiaddrComponent> transport = TransportComponents();
        long scopeId = 0;
        if (transport.Length == 3 && ReferenceEquals(transport[0].Protocol, MultiaddrProtocol.Ip6Zone)
            && ReferenceEquals(transport[1].Protocol, MultiaddrProtocol.Ip6))
        {
            if (!uint.TryParse(transport[0].Value, NumberStyles.None, CultureInfo.InvariantCulture, out uint zone))
                return false;
            scopeId = zone;
            transport = transport[1..];
        }
        if (transport.Length != 2 || !ReferenceEquals(transport[1].Protocol, MultiaddrProtocol.Tcp))
            return false;
        IPAddress address;
        if (ReferenceEquals(transport[0].Protocol, MultiaddrProtocol.Ip4))
            address = new IPAddress(transport[0].Value!);
        else if (ReferenceEquals(transport[0].Protocol, MultiaddrProtocol.Ip6))
            address = new IPAddress(transport[0].Value!, scopeId);
        else
            return false;
        endPoint = new IPEndPoint(address, BinaryPrimitives.ReadUInt16BigEndian(transport[1].Value));
        return true;
    }

    /// <summary>
    /// For <c>/dns|dns4|dns6/&lt;host&gt;/tcp/&lt;port&gt;</c>, optionally followed by <c>/p2p/&lt;id&gt;</c>: the
    /// host to resolve and the address family to keep (<see cref="AddressFamily.Unspecified"/> for <c>dns</c>).
    /// </summary>
    public bool TryGetDnsTcp(out string? host, out int port, out AddressFamily family)
    {
        host = null;
        port = 0;
        family = AddressFamily.Unspecified;
        ReadOnlySpan<MultiaddrComponent> transport = TransportComponents();
        if (transport.Length != 2 || !ReferenceEquals(transport[1].Protocol, MultiaddrProtocol.Tcp))
            return false;
        MultiaddrProtocol protocol = transport[0].Protocol;
        if (ReferenceEquals(protocol, MultiaddrProtocol.Dns4))
            family = AddressFamily.InterNetwork;
        else if (ReferenceEquals(protocol, MultiaddrProtocol.Dns6))
            family = AddressFamily.InterNetworkV6;
        else if (!ReferenceEquals(protocol, MultiaddrProtocol.Dns))
            return false;
        host = transport[0].ValueText;
        port = BinaryPrimitives.ReadUInt16BigEndian(transport[1].Value);
        return true;
    }

    public bool Equals(Multiaddr? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    public override bool Equals(object? obj) => Equals(obj as Multiaddr);

    public override int GetHashCode() => _hash;

    public static bool operator ==(Multiaddr? left, Multiaddr? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(Multiaddr? left, Multiaddr? right) => !(left == right);

    private ReadOnlySpan<MultiaddrComponent> TransportComponents() =>
        PeerId is null ? _components : _components.AsSpan(0, _components.Length - 1);

    /// <summary>Builds an address from components already known to be valid, checking only the limits.</summary>
    private static Multiaddr Create(MultiaddrComponent[] components)
    {
        if (components.Length == 0)
            return Empty;
        int byteCount = 0;
        foreach (MultiaddrComponent component in components)
            byteCount += MultiaddrCodec.EncodedLength(component);
        string text = MultiaddrCodec.Format(components);
        string? exceeded =
            components.Length > MaxComponents ? $"more than {MaxComponents} components"
            : byteCount > MaxByteLength ? $"binary form longer than {MaxByteLength} bytes"
            : text.Length > MaxTextLength ? $"longer than {MaxTextLength} characters"
            : null;
        if (exceeded is not null)
            throw MultiaddrFormatException.FromText(text, new MultiaddrError(exceeded, null, 0));
        return new Multiaddr(components, MultiaddrCodec.Encode(components, byteCount), text);
    }
}
