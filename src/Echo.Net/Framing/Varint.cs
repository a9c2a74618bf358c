using System.Buffers;

namespace Echo.Net.Framing;

/// <summary>
/// Unsigned varint (multiformats/unsigned-varint): LEB128, 7 bits per byte, least significant
/// group first, high bit set on every byte but the last. We accept only minimal encodings of at
/// most 9 bytes (63 bits), as the spec requires.
/// </summary>
/// <remarks>
/// <code>
///   1 -> 01      127 -> 7f      128 -> 80 01      300 -> ac 02      16384 -> 80 80 01
/// </code>
/// </remarks>
public static class Varint
{
    public const string ProtocolId = "varint";
    public const int MaxLength = 9;
    public const ulong MaxValue = (1UL << 63) - 1;

    /// <summary>Bytes needed to encode <paramref name="value"/>.</summary>
    public static int GetByteCount(ulong value)
    {
        int count = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            count++;
        }
        return count;
    }

    /// <summary>Writes <paramref name="value"/> and returns the number of bytes written.</summary>
    public static int Write(Span<byte> destination, ulong value)
    {
        if (value > MaxValue)
            throw new ArgumentOutOfRangeException(nameof(value), "unsigned varints carry at most 63 bits");
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static byte[] Encode(ulong value)
    {
        byte[] bytes = new byte[GetByteCount(value)];
        Write(bytes, value);
        return bytes;
    }

    /// <summary>
    /// Decodes a varint from the start of <paramref name="source"/>. Returns false when more bytes
    /// are needed; throws <see cref="ProtocolViolationException"/> for an over-long or non-minimal one.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int bytesRead)
    {
        value = 0;
        for (int i = 0; i < source.Length; i++)
        {
            if (i == MaxLength)
                throw new ProtocolViolationException(ProtocolId, "varint longer than 9 bytes");
            byte b = source[i];
            value |= (ulong)(b & 0x7f) << (7 * i);
            if (b < 0x80)
            {
                if (b == 0 && i > 0)
                    throw new ProtocolViolationException(ProtocolId, "varint is not minimally encoded");
                bytesRead = i + 1;
                return true;
            }
        }
        if (source.Length >= MaxLength)
            throw new ProtocolViolationException(ProtocolId, "varint longer than 9 bytes");
        bytesRead = 0;
        value = 0;
        return false;
    }

    /// <summary>Same contract as the span overload; advances the reader only on success.</summary>
    public static bool TryRead(ref SequenceReader<byte> reader, out ulong value)
    {
        Span<byte> scratch = stackalloc byte[MaxLength];
        int available = (int)Math.Min(reader.Remaining, MaxLength);
        if (!reader.TryCopyTo(scratch[..available]))
        {
            value = 0;
            return false;
        }
        if (!TryRead(scratch[..available], out value, out int bytesRead))
            return false;
        reader.Advance(bytesRead);
        return true;
    }

    /// <summary>Decodes a complete varint from the start of <paramref name="source"/> or throws.</summary>
    public static ulong Read(ReadOnlySpan<byte> source, out int bytesRead)
    {
        if (!TryRead(source, out ulong value, out bytesRead))
            throw new ProtocolViolationException(ProtocolId, "truncated varint");
        return value;
    }
}
