using System.Buffers.Binary;
using System.Security.Cryptography;
using Echo.Net.Framing;

namespace Echo.Net.Kad;

/// <summary>
/// A point in the Kademlia key space: sha256 of a key's bytes (a peer id's bytes for a peer).
/// Distance is the XOR of two points, compared as a 256-bit big-endian number.
/// </summary>
internal readonly struct KadKey : IEquatable<KadKey>
{
    private readonly ulong _a, _b, _c, _d;

    private KadKey(ulong a, ulong b, ulong c, ulong d)
    {
        _a = a;
        _b = b;
        _c = c;
        _d = d;
    }

    /// <summary>The point of <paramref name="key"/>: sha256 of its bytes.</summary>
    public static KadKey Of(ReadOnlySpan<byte> key)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(key, hash);
        return FromHash(hash);
    }

    /// <summary>The point whose 32 bytes are <paramref name="hash"/> (not hashed again).</summary>
    public static KadKey FromHash(ReadOnlySpan<byte> hash) => new(
        BinaryPrimitives.ReadUInt64BigEndian(hash),
        BinaryPrimitives.ReadUInt64BigEndian(hash[8..]),
        BinaryPrimitives.ReadUInt64BigEndian(hash[16..]),
        BinaryPrimitives.ReadUInt64BigEndian(hash[24..]));

    public KadKey Xor(KadKey other) => new(_a ^ other._a, _b ^ other._b, _c ^ other._c, _d ^ other._d);

    /// <summary>Leading bits <paramref name="other"/> shares with this point (256 when equal): the bucket index.</summary>
    public int CommonPrefixLength(KadKey other)
    {
        KadKey x = Xor(other);
        if (x._a != 0)
            return System.Numerics.BitOperations.LeadingZeroCount(x._a);
        if (x._b != 0)
            return 64 + System.Numerics.BitOperations.LeadingZeroCount(x._b);
        if (x._c != 0)
            return 128 + System.Numerics.BitOperations.LeadingZeroCount(x._c);
        if (x._d != 0)
            return 192 + System.Numerics.BitOperations.LeadingZeroCount(x._d);
        return 256;
    }

    /// <summary>Compares the distances of <paramref name="left"/> and <paramref name="right"/> to this point.</summary>
    public int CompareDistance(KadKey left, KadKey right)
    {
        KadKey l = Xor(left), r = Xor(right);
        int c = l._a.CompareTo(r._a);
        if (c != 0)
            return c;
        c = l._b.CompareTo(r._b);
        if (c != 0)
            return c;
        c = l._c.CompareTo(r._c);
        return c != 0 ? c : l._d.CompareTo(r._d);
    }

    /// <summary>
    /// A random point sharing exactly <paramref name="prefixLength"/> leading bits with this one (the
    /// next bit differs), for refreshing bucket <paramref name="prefixLength"/>.
    /// </summary>
    public KadKey RandomWithPrefix(int prefixLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 255);
        Span<byte> random = stackalloc byte[32];
        RandomNumberGenerator.Fill(random);
        Span<byte> own = stackalloc byte[32];
        WriteTo(own);
        for (int bit = 0; bit <= prefixLength; bit++)
        {
            int index = bit / 8;
            byte mask = (byte)(0x80 >> (bit % 8));
            bool ownBit = (own[index] & mask) != 0;
            bool set = bit == prefixLength ? !ownBit : ownBit;
            random[index] = set ? (byte)(random[index] | mask) : (byte)(random[index] & ~mask);
        }
        return FromHash(random);
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _a);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _d);
    }

    public bool Equals(KadKey other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

    public override bool Equals(object? obj) => obj is KadKey other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_a, _b, _c, _d);

    public static bool operator ==(KadKey left, KadKey right) => left.Equals(right);

    public static bool operator !=(KadKey left, KadKey right) => !left.Equals(right);

    /// <summary>
    /// Whether <paramref name="key"/> is a multihash of at most <see cref="KadLimits.MaxKeyBytes"/> bytes:
    /// a code, a digest length and exactly that many digest bytes (what js requires of provider keys).
    /// </summary>
    public static bool IsMultihash(ReadOnlySpan<byte> key, out string? error)
    {
        error = null;
        if (key.Length == 0 || key.Length > KadLimits.MaxKeyBytes)
        {
            error = $"a key is 1 to {KadLimits.MaxKeyBytes} bytes, not {key.Length}";
            return false;
        }
        try
        {
            Varint.Read(key, out int codeBytes);
            ulong length = Varint.Read(key[codeBytes..], out int lengthBytes);
            if ((ulong)(key.Length - codeBytes - lengthBytes) != length)
            {
                error = $"the multihash says {length} digest bytes but holds {key.Length - codeBytes - lengthBytes}";
                return false;
            }
            return true;
        }
        catch (ProtocolViolationException e)
        {
            error = "not a multihash: " + e.Message;
            return false;
        }
    }
}
