using System.Collections.Frozen;
using Echo.Net.Identity;

namespace Echo.Net.Multiformats;

/// <summary>
/// One protocol of the multiaddr table (multiformats/multiaddr protocols.csv, codes from the
/// multicodec table): its text name, its code, and the size of its value.
/// </summary>
/// <remarks>
/// Only the protocols listed here are understood. An address holding any other protocol cannot be
/// parsed at all: in binary the size of an unknown value is unknown, so nothing after it can be read.
/// </remarks>
public sealed class MultiaddrProtocol
{
    /// <summary>The <see cref="Size"/> of a protocol whose value is <c>uvarint(length) || bytes</c>.</summary>
    public const int VariableSize = -1;

    // Hostnames are at most 253 characters in dotted form (RFC 1035 2.3.4, 255 octets on the wire).
    private const int MaxHostNameBytes = 253;
    // Zones and Unix paths have no protocol maximum; 255 bytes is ample (Linux socket paths are <= 107).
    private const int MaxZoneBytes = 255;
    private const int MaxPathBytes = 255;
    // A multihash of the largest digests in use (sha2-512, blake2b-512) is under 70 bytes.
    private const int MaxCertHashBytes = 128;

    public static readonly MultiaddrProtocol Ip4 = new("ip4", 0x04, 4, ValueKind.Ip4);
    public static readonly MultiaddrProtocol Tcp = new("tcp", 0x06, 2, ValueKind.Port);
    public static readonly MultiaddrProtocol Ip6 = new("ip6", 0x29, 16, ValueKind.Ip6);
    public static readonly MultiaddrProtocol Ip6Zone = new("ip6zone", 0x2a, VariableSize, ValueKind.Name, MaxZoneBytes);
    public static readonly MultiaddrProtocol Dns = new("dns", 0x35, VariableSize, ValueKind.Name, MaxHostNameBytes);
    public static readonly MultiaddrProtocol Dns4 = new("dns4", 0x36, VariableSize, ValueKind.Name, MaxHostNameBytes);
    public static readonly MultiaddrProtocol Dns6 = new("dns6", 0x37, VariableSize, ValueKind.Name, MaxHostNameBytes);
    public static readonly MultiaddrProtocol DnsAddr = new("dnsaddr", 0x38, VariableSize, ValueKind.Name, MaxHostNameBytes);
    public static readonly MultiaddrProtocol Udp = new("udp", 0x0111, 2, ValueKind.Port);
    public static readonly MultiaddrProtocol WebRtcDirect = new("webrtc-direct", 0x0118, 0, ValueKind.None);
    public static readonly MultiaddrProtocol WebRtc = new("webrtc", 0x0119, 0, ValueKind.None);
    public static readonly MultiaddrProtocol P2pCircuit = new("p2p-circuit", 0x0122, 0, ValueKind.None);
    public static readonly MultiaddrProtocol Unix = new("unix", 0x0190, VariableSize, ValueKind.Path, MaxPathBytes);
    public static readonly MultiaddrProtocol P2p = new("p2p", 0x01a5, VariableSize, ValueKind.PeerId, PeerId.MaxByteLength);
    public static readonly MultiaddrProtocol Tls = new("tls", 0x01c0, 0, ValueKind.None);
    public static readonly MultiaddrProtocol Sni = new("sni", 0x01c1, VariableSize, ValueKind.Name, MaxHostNameBytes);
    public static readonly MultiaddrProtocol Noise = new("noise", 0x01c6, 0, ValueKind.None);
    public static readonly MultiaddrProtocol Quic = new("quic", 0x01cc, 0, ValueKind.None);
    public static readonly MultiaddrProtocol QuicV1 = new("quic-v1", 0x01cd, 0, ValueKind.None);
    public static readonly MultiaddrProtocol WebTransport = new("webtransport", 0x01d1, 0, ValueKind.None);
    public static readonly MultiaddrProtocol CertHash = new("certhash", 0x01d2, VariableSize, ValueKind.CertHash, MaxCertHashBytes);
    public static readonly MultiaddrProtocol Ws = new("ws", 0x01dd, 0, ValueKind.None);
    public static readonly MultiaddrProtocol Wss = new("wss", 0x01de, 0, ValueKind.None);
    public static readonly MultiaddrProtocol Http = new("http", 0x01e0, 0, ValueKind.None);

    /// <summary>Every protocol we understand, in code order.</summary>
    public static IReadOnlyList<MultiaddrProtocol> All { get; } =
    [
        Ip4, Tcp, Ip6, Ip6Zone, Dns, Dns4, Dns6, DnsAddr, Udp, WebRtcDirect, WebRtc, P2pCircuit, Unix, P2p,
        Tls, Sni, Noise, Quic, QuicV1, WebTransport, CertHash, Ws, Wss, Http,
    ];

    private static readonly FrozenDictionary<int, MultiaddrProtocol> ByCode = All.ToFrozenDictionary(p => p.Code);

    // "ipfs" is the old name of p2p (same code); accepted on input, never printed.
    private static readonly FrozenDictionary<string, MultiaddrProtocol> ByName =
        All.Select(p => KeyValuePair.Create(p.Name, p))
            .Append(KeyValuePair.Create("ipfs", P2p))
            .ToFrozenDictionary(StringComparer.Ordinal);

    private MultiaddrProtocol(string name, int code, int size, ValueKind kind, int maxValueLength = 0)
    {
        Name = name;
        Code = code;
        Size = size;
        Kind = kind;
        MaxValueLength = size >= 0 ? size : maxValueLength;
    }

    /// <summary>The text name, as printed: <c>ip4</c>, <c>p2p</c>, <c>quic-v1</c>.</summary>
    public string Name { get; }

    /// <summary>The multicodec code written (as a uvarint) before the value in the binary form.</summary>
    public int Code { get; }

    /// <summary>Value size in bytes: fixed (ip4: 4, tcp: 2), 0 for no value, or <see cref="VariableSize"/>.</summary>
    public int Size { get; }

    /// <summary>The largest value accepted, in bytes (equal to <see cref="Size"/> when that is fixed).</summary>
    public int MaxValueLength { get; }

    /// <summary>
    /// True for a path protocol (<c>unix</c>): its text value is the rest of the address, slashes
    /// included, so it can only be the last component.
    /// </summary>
    public bool IsPath => Kind == ValueKind.Path;

    internal ValueKind Kind { get; }

    /// <summary>Looks a protocol up by text name; <c>ipfs</c> finds <see cref="P2p"/>.</summary>
    public static bool TryGetByName(string name, out MultiaddrProtocol? protocol) =>
        ByName.TryGetValue(name, out protocol);

    internal static bool TryGetByName(ReadOnlySpan<char> name, out MultiaddrProtocol? protocol) =>
        ByName.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name, out protocol);

    public static bool TryGetByCode(int code, out MultiaddrProtocol? protocol) =>
        ByCode.TryGetValue(code, out protocol);

    public override string ToString() => Name;
}

/// <summary>How a protocol's value is written in text and checked in binary.</summary>
internal enum ValueKind
{
    None,
    Ip4,
    Ip6,
    Port,
    Name,        // dns, dns4, dns6, dnsaddr, sni, ip6zone: UTF-8 text without '/'
    Path,        // unix: UTF-8 absolute path, the rest of the text address
    PeerId,      // p2p: peer-id multihash; text base58btc (CIDv1 accepted)
    CertHash,    // certhash: multihash; text multibase
}
