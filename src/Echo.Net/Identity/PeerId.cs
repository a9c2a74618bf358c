using System.Security.Cryptography;
using Echo.Net.Framing;
using SimpleBase;

namespace Echo.Net.Identity;

/// <summary>
/// A peer's identity: the multihash of its encoded public key
/// (https://github.com/libp2p/specs/blob/master/peer-ids/peer-ids.md).
/// </summary>
/// <remarks>
/// <code>
///   encoded key &lt;= 42 bytes:  00 &lt;len&gt; &lt;encoded key&gt;        identity multihash (Ed25519: "12D3KooW...")
///   encoded key  &gt; 42 bytes:  12 20 &lt;sha256(encoded key)&gt;    sha2-256 multihash (RSA, ECDSA: "Qm...")
/// </code>
/// Text is base58btc of the multihash; the CIDv1 form (<c>b</c> + base32 of <c>01 72 multihash</c>,
/// "bafz...") is parsed too. Printing always uses base58.
/// </remarks>
public sealed class PeerId : IEquatable<PeerId>
{
    public const string ProtocolId = "peer-id";
    private const int MaxInlineKeyLength = 42;
    private const byte IdentityCode = 0x00;
    private const byte Sha256Code = 0x12;
    private const int LibP2pKeyCodec = 0x72;

    /// <summary>Longest valid binary form: identity multihash of a 42-byte key.</summary>
    public const int MaxByteLength = 2 + MaxInlineKeyLength;

    /// <summary>Longest text we try to decode (CIDv1 base32 of the longest binary form is ~75 chars).</summary>
    public const int MaxTextLength = 128;

    private readonly byte[] _bytes;
    private readonly int _hash;
    private string? _text;     // base58, made on first use: pubsub builds a peer id per received message

    private PeerId(byte[] bytes)
    {
        _bytes = bytes;
        HashCode hash = new();
        hash.AddBytes(bytes);
        _hash = hash.ToHashCode();
    }

    /// <summary>The multihash bytes (what multiaddrs, pubsub <c>from</c> and identify carry).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    public byte[] ToBytes() => (byte[])_bytes.Clone();

    public static PeerId FromPublicKey(PublicKey key)
    {
        ReadOnlySpan<byte> encoded = key.EncodedSpan;
        byte[] bytes;
        if (encoded.Length <= MaxInlineKeyLength)
        {
            bytes = new byte[2 + encoded.Length];
            bytes[0] = IdentityCode;
            bytes[1] = (byte)encoded.Length;
            encoded.CopyTo(bytes.AsSpan(2));
        }
        else
        {
            bytes = new byte[2 + 32];
            bytes[0] = Sha256Code;
            bytes[1] = 32;
            SHA256.HashData(encoded, bytes.AsSpan(2));
        }
        return new PeerId(bytes);
    }

    /// <summary>Decodes a binary peer id (a multihash); throws <see cref="ProtocolViolationException"/> when invalid.</summary>
    public static PeerId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (!TryValidate(bytes, out string? error))
            throw new ProtocolViolationException(ProtocolId, error ?? "invalid");
        return new PeerId(bytes.ToArray());
    }

    public static bool TryFromBytes(ReadOnlySpan<byte> bytes, out PeerId? peerId)
    {
        peerId = TryValidate(bytes, out _) ? new PeerId(bytes.ToArray()) : null;
        return peerId is not null;
    }

    /// <summary>Parses base58 ("12D3KooW...", "Qm...") or CIDv1 ("bafz...") text.</summary>
    /// <exception cref="FormatException">The text is not a peer id; the message says why.</exception>
    public static PeerId Parse(string text) =>
        TryParse(text, out PeerId? peerId, out string? error) ? peerId! : throw new FormatException($"invalid peer id \"{Shorten(text)}\": {error}");

    public static bool TryParse(string? text, out PeerId? peerId) => TryParse(text, out peerId, out _);

    public static bool TryParse(string? text, out PeerId? peerId, out string? error)
    {
        peerId = null;
        if (string.IsNullOrEmpty(text))
        {
            error = "empty";
            return false;
        }
        if (text.Length > MaxTextLength)
        {
            error = $"longer than {MaxTextLength} characters";
            return false;
        }
        byte[] multihash;
        if (text[0] == '1' || text.StartsWith("Qm", StringComparison.Ordinal))
        {
            if (!TryDecode(() => Base58.Bitcoin.Decode(text), out multihash))
            {
                error = "not valid base58btc";
                return false;
            }
        }
        else if (text[0] == 'b' || text[0] == 'B')
        {
            if (!TryDecode(() => Base32.Rfc4648.Decode(text.AsSpan(1)), out byte[] cid))
            {
                error = "not valid base32";
                return false;
            }
            if (!TryReadCid(cid, out multihash, out error))
                return false;
        }
        else if (text[0] == 'z')
        {
            error = null;
            if (!TryDecode(() => Base58.Bitcoin.Decode(text.AsSpan(1)), out byte[] cid) || !TryReadCid(cid, out multihash, out error))
            {
                error ??= "not valid base58btc";
                return false;
            }
        }
        else
        {
            error = "neither base58 (\"12D3KooW...\", \"Qm...\") nor a CIDv1 (\"bafz...\")";
            return false;
        }
        if (!TryValidate(multihash, out error))
            return false;
        peerId = new PeerId(multihash);
        return true;
    }

    private static bool TryDecode(Func<byte[]> decode, out byte[] bytes)
    {
        try
        {
            bytes = decode();
            return true;
        }
        // SimpleBase throws a mix of exception types for characters outside its alphabet
        // (IndexOutOfRange for non-ASCII): all of them mean "not this encoding".
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or IndexOutOfRangeException)
        {
            bytes = [];
            return false;
        }
    }

    private static bool TryReadCid(ReadOnlySpan<byte> cid, out byte[] multihash, out string? error)
    {
        multihash = [];
        try
        {
            ulong version = Varint.Read(cid, out int n1);
            ulong codec = Varint.Read(cid[n1..], out int n2);
            if (version != 1)
            {
                error = $"CID version {version}, expected 1";
                return false;
            }
            if (codec != LibP2pKeyCodec)
            {
                error = $"CID codec 0x{codec:x}, expected libp2p-key (0x72)";
                return false;
            }
            multihash = cid[(n1 + n2)..].ToArray();
            error = null;
            return true;
        }
        catch (ProtocolViolationException e)
        {
            error = "bad CID: " + e.Message;
            return false;
        }
    }

    private static bool TryValidate(ReadOnlySpan<byte> bytes, out string? error)
    {
        error = null;
        if (bytes.Length < 2)
            error = "too short for a multihash";
        else if (bytes.Length > MaxByteLength)
            error = $"longer than {MaxByteLength} bytes";
        else if (bytes[0] == IdentityCode)
        {
            if (bytes[1] != bytes.Length - 2 || bytes[1] > MaxInlineKeyLength)
                error = "identity multihash length does not match";
            else
            {
                try
                {
                    PublicKey.FromProtobuf(bytes[2..]);
                }
                catch (ProtocolViolationException e)
                {
                    error = "identity multihash does not hold a public key: " + e.Message;
                }
            }
        }
        else if (bytes[0] == Sha256Code)
        {
            if (bytes[1] != 32 || bytes.Length != 34)
                error = "sha2-256 multihash must carry 32 bytes";
        }
        else
            error = $"multihash code 0x{bytes[0]:x2} is neither identity nor sha2-256";
        return error is null;
    }

    /// <summary>The public key inlined in an identity-multihash peer id (Ed25519, secp256k1), or null.</summary>
    public PublicKey? TryGetPublicKey() =>
        _bytes[0] == IdentityCode ? PublicKey.FromProtobuf(_bytes.AsSpan(2)) : null;

    /// <summary>True when <paramref name="key"/> is this peer's key.</summary>
    public bool Matches(PublicKey key) => Equals(FromPublicKey(key));

    public string ToCidString()
    {
        byte[] cid = [0x01, LibP2pKeyCodec, .. _bytes];
        return "b" + Base32.Rfc4648.Encode(cid, padding: false).ToLowerInvariant();
    }

    /// <summary>The last 6 characters, as the UIs show it ("…QAJU5SA").</summary>
    public string ToShortString() => ToString() is { Length: > 8 } text ? text[^6..] : ToString();

    public override string ToString() => _text ??= Base58.Bitcoin.Encode(_bytes);

    public bool Equals(PeerId? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    public override bool Equals(object? obj) => Equals(obj as PeerId);

    public override int GetHashCode() => _hash;

    public static bool operator ==(PeerId? left, PeerId? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(PeerId? left, PeerId? right) => !(left == right);

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..61] + "...";
}
