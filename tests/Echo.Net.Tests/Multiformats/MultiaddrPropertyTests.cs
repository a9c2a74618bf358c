using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Text;
using CsCheck;
using Echo.Net.Framing;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Tests.Multiformats;

/// <summary>
/// Generated addresses with their expected binary form built here, independently of the codec
/// (round trips, rule P-3 of docs/LIMITS.md), and random or mutated input that may only ever be refused with
/// <see cref="MultiaddrFormatException"/> (P-1).
/// </summary>
public class MultiaddrPropertyTests
{
    private const int Iterations = 100_000;

    /// <summary>An address as text and the binary form it must have.</summary>
    public sealed record Encoded(string Text, byte[] Bytes)
    {
        public static Encoded operator +(Encoded a, Encoded b) => new(a.Text + b.Text, [.. a.Bytes, .. b.Bytes]);

        public override string ToString() => $"{Text} = {Convert.ToHexStringLower(Bytes)}";
    }

    private static readonly PeerId[] Ed25519Peers = CreatePeers(4);

    private static PeerId[] CreatePeers(int count)
    {
        PeerId[] peers = new PeerId[count];
        for (int i = 0; i < count; i++)
        {
            using KeyPair pair = KeyPair.Generate();
            peers[i] = pair.PeerId;
        }
        return peers;
    }

    private static Encoded Component(byte[] code, string name, string? valueText = null, byte[]? value = null, bool lengthPrefixed = false)
    {
        if (value is null)
            return new($"/{name}", code);
        Assert.True(value.Length < 128, "the oracle writes one-byte length prefixes");
        byte[] bytes = lengthPrefixed ? [.. code, (byte)value.Length, .. value] : [.. code, .. value];
        return new($"/{name}/{valueText}", bytes);
    }

    private static readonly Gen<Encoded> GenIp4 = Gen.Byte.Array[4].Select(b => Component([0x04], "ip4", $"{b[0]}.{b[1]}.{b[2]}.{b[3]}", b));

    private static readonly Gen<Encoded> GenIp6 = Gen.Frequency(
            (3, Gen.Byte.Array[16]),
            (1, Gen.Byte.Array[16].Select(b => { b.AsSpan(0, 12).Clear(); return b; })),                        // ::a.b.c.d
            (1, Gen.Byte.Array[16].Select(b => { b.AsSpan(0, 10).Clear(); b[10] = b[11] = 0xff; return b; })),  // mapped
            (2, Gen.Byte.Array[16].Select(b => { b.AsSpan(2, 12).Clear(); return b; })))                        // long zero run
        .Select(b => Component([0x29], "ip6", new IPAddress(b).ToString(), b));

    private static readonly Gen<Encoded> GenPort = Gen.Select(Gen.Bool, Gen.UShort, (udp, port) =>
        udp
            ? Component([0x91, 0x02], "udp", port.ToString(CultureInfo.InvariantCulture), [(byte)(port >> 8), (byte)port])
            : Component([0x06], "tcp", port.ToString(CultureInfo.InvariantCulture), [(byte)(port >> 8), (byte)port]));

    private static readonly (byte[] Code, string Name)[] NameProtocols =
    [
        ([0x35], "dns"), ([0x36], "dns4"), ([0x37], "dns6"), ([0x38], "dnsaddr"), ([0xc1, 0x03], "sni"), ([0x2a], "ip6zone"),
    ];

    private static readonly Gen<Encoded> GenName = Gen.Select(
        Gen.Int[0, NameProtocols.Length - 1],
        Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyzABC0123456789-._%:\u00fc\u00e9\u4e2d"], 1, 30],
        (i, name) => Component(NameProtocols[i].Code, NameProtocols[i].Name, name, Encoding.UTF8.GetBytes(name), lengthPrefixed: true));

    private static readonly Gen<PeerId> GenPeerId = Gen.Frequency(
        (1, Gen.Int[0, Ed25519Peers.Length - 1].Select(i => Ed25519Peers[i])),
        (3, Gen.Byte.Array[32].Select(digest => PeerId.FromBytes([0x12, 0x20, .. digest]))));

    private static readonly Gen<Encoded> GenP2p = GenPeerId.Select(id => Component([0xa5, 0x03], "p2p", id.ToString(), id.ToBytes(), lengthPrefixed: true));

    private static readonly Gen<Encoded> GenCertHash = Gen.Byte.Array[0, 64].Select(digest =>
    {
        byte[] multihash = [0x12, (byte)digest.Length, .. digest];
        return Component([0xd2, 0x03], "certhash", "u" + Base64Url.EncodeToString(multihash), multihash, lengthPrefixed: true);
    });

    private static readonly Gen<Encoded> GenNoValue = Gen.OneOf(
        Gen.Const(Component([0xa2, 0x02], "p2p-circuit")), Gen.Const(Component([0xcd, 0x03], "quic-v1")),
        Gen.Const(Component([0xdd, 0x03], "ws")), Gen.Const(Component([0xde, 0x03], "wss")),
        Gen.Const(Component([0xc0, 0x03], "tls")), Gen.Const(Component([0xc6, 0x03], "noise")),
        Gen.Const(Component([0xcc, 0x03], "quic")), Gen.Const(Component([0xd1, 0x03], "webtransport")),
        Gen.Const(Component([0x98, 0x02], "webrtc-direct")), Gen.Const(Component([0x99, 0x02], "webrtc")),
        Gen.Const(Component([0xe0, 0x03], "http")));

    // A unix path takes the rest of the text address, so it can only come last.
    private static readonly Gen<Encoded> GenUnix = Gen.String[Gen.Char["abcxyz019._- /\u00fc"], 1, 40].Select(rest =>
    {
        byte[] path = Encoding.UTF8.GetBytes("/" + rest);
        return new Encoded("/unix/" + rest, [0x90, 0x03, (byte)path.Length, .. path]);
    });

    private static readonly Gen<Encoded> GenComponent = Gen.Frequency(
        (4, GenIp4), (3, GenIp6), (5, GenPort), (3, GenName), (3, GenP2p), (1, GenCertHash), (5, GenNoValue));

    /// <summary>1..12 components, sometimes ending in a unix path.</summary>
    internal static readonly Gen<Encoded> GenAddress = Gen.Select(
        GenComponent.Array[1, 12],
        Gen.Frequency((9, Gen.Const((Encoded?)null)), (1, GenUnix.Select(u => (Encoded?)u))),
        (components, unix) =>
        {
            Encoded body = components.Aggregate((a, b) => a + b);
            return unix is null ? body : body + unix;
        });

    [Fact]
    public void GeneratedAddress_TextAndBinary_RoundTrip()
    {
        GenAddress.Sample(expected =>
        {
            Multiaddr parsed = Multiaddr.Parse(expected.Text);
            Assert.Equal(expected.Text, parsed.ToString());
            Assert.Equal(expected.Bytes, parsed.ToBytes());
            Multiaddr decoded = Multiaddr.FromBytes(expected.Bytes);
            Assert.Equal(expected.Text, decoded.ToString());
            Assert.Equal(parsed, decoded);
            Assert.Equal(parsed.GetHashCode(), decoded.GetHashCode());
            Assert.Equal(parsed.Components, decoded.Components);
        }, iter: Iterations);
    }

    private static readonly Gen<byte[]> GenMutatedBytes = Gen.Select(GenAddress, Gen.Int[0, 4], Gen.Int, Gen.Byte, (address, kind, where, b) =>
    {
        List<byte> bytes = [.. address.Bytes];
        int i = (int)((uint)where % (uint)bytes.Count);
        switch (kind)
        {
            case 0: bytes[i] ^= b == 0 ? (byte)1 : b; break;            // flip bits
            case 1: bytes.Insert(i, b); break;                          // insert a byte
            case 2: bytes.RemoveAt(i); break;                           // drop a byte
            case 3: bytes.RemoveRange(i, bytes.Count - i); break;       // truncate
            default: bytes[i] = b; break;                               // overwrite (lengths, codes)
        }
        return bytes.ToArray();
    });

    // Runs of known codes followed by random bytes get further into the parser than pure noise.
    private static readonly int[] KnownCodes = [.. MultiaddrProtocol.All.Select(p => p.Code)];

    private static readonly Gen<byte[]> GenStructuredRandom = Gen.Select(Gen.Int[0, KnownCodes.Length - 1], Gen.Byte.Array[0, 20], (i, tail) =>
        (byte[])[.. Varint.Encode((ulong)KnownCodes[i]), .. tail]).Array[1, 6].Select(parts => parts.SelectMany(p => p).ToArray());

    [Fact]
    public void FromBytes_RandomInput_OnlyFormatExceptionsAndAcceptedInputReencodesIdentically()
    {
        Gen.Frequency((1, Gen.Byte.Array[0, 100]), (1, GenStructuredRandom)).Sample(bytes => { CheckBinary(bytes); }, iter: Iterations);
    }

    [Fact]
    public void FromBytes_MutatedValidInput_OnlyFormatExceptionsAndAcceptedInputReencodesIdentically()
    {
        int accepted = 0;
        GenMutatedBytes.Sample(bytes =>
        {
            if (CheckBinary(bytes))
                Interlocked.Increment(ref accepted);
        }, iter: Iterations);
        Assert.InRange(accepted, Iterations / 20, Iterations * 19 / 20);   // ~27% here: both outcomes well exercised
    }

    /// <summary>Returns whether the bytes were accepted.</summary>
    private static bool CheckBinary(byte[] bytes)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        bool accepted = Multiaddr.TryFromBytes(bytes, out Multiaddr? viaTry, out string? error);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Allocation follows the input, never a length the input announces (docs/LIMITS.md, rule P-1).
        Assert.True(allocated <= 4096 + 64L * bytes.Length, $"{allocated} bytes allocated for {bytes.Length} input bytes");
        try
        {
            Multiaddr address = Multiaddr.FromBytes(bytes);
            Assert.True(accepted);
            Assert.Equal(bytes, address.ToBytes());
            Assert.Equal(address, viaTry);
            Assert.Equal(address, Multiaddr.Parse(address.ToString()));
            return true;
        }
        catch (MultiaddrFormatException e)
        {
            Assert.False(accepted);
            Assert.Equal(e.Message, "multiaddr: " + error);
            Assert.InRange(e.Position, 0, Math.Max(bytes.Length, Multiaddr.MaxByteLength));
            return false;
        }
    }

    private static readonly Gen<string> GenTokens = Gen.OneOf(
            Gen.OneOf(MultiaddrProtocol.All.Select(p => Gen.Const("/" + p.Name)).Append(Gen.Const("/ipfs")).ToArray()),
            Gen.OneOf(Gen.Const("/"), Gen.Const("//"), Gen.Const("/1.2.3.4"), Gen.Const("/::1"), Gen.Const("/80"),
                Gen.Const("/65536"), Gen.Const("/example.com"), Gen.Const("/" + "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA")),
            Gen.String[Gen.Char["/0123456789.:abcdefxyzABCDEF%[]- \u00fc\u202e\u001b"], 0, 12])
        .Array[0, 12].Select(parts => string.Concat(parts));

    private static readonly Gen<string> GenMutatedText = Gen.Select(GenAddress, Gen.Int[0, 2], Gen.Int, Gen.Char["/.:0a9Z %\u0000\ud800"], (address, kind, where, c) =>
    {
        StringBuilder text = new(address.Text);
        int i = (int)((uint)where % (uint)text.Length);
        switch (kind)
        {
            case 0: text[i] = c; break;
            case 1: text.Insert(i, c); break;
            default: text.Remove(i, 1); break;
        }
        return text.ToString();
    });

    [Fact]
    public void TryParse_RandomAndMutatedText_NeverThrowsAndAcceptedTextRoundTrips()
    {
        int accepted = 0;
        Gen.Frequency((2, GenTokens), (1, Gen.String[0, 60]), (2, GenMutatedText)).Sample(text =>
        {
            if (Multiaddr.TryParse(text, out Multiaddr? address, out string? error))
            {
                Interlocked.Increment(ref accepted);
                Assert.Null(error);
                string canonical = address!.ToString();
                Multiaddr again = Multiaddr.Parse(canonical);
                Assert.Equal(address, again);
                Assert.Equal(canonical, again.ToString());
                Assert.Equal(address, Multiaddr.FromBytes(address.ToBytes()));
            }
            else
            {
                Assert.Null(address);
                Assert.StartsWith("invalid multiaddr", error);
                Assert.Throws<MultiaddrFormatException>(() => Multiaddr.Parse(text));
            }
        }, iter: Iterations);
        Assert.InRange(accepted, Iterations / 50, Iterations / 2);        // ~9% here
    }
}
