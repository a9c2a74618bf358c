using System.Buffers;

namespace Echo.Net.Framing;

/// <summary>
/// A length-prefixed message: <c>uvarint(length) || length bytes</c>. Used by multistream-select,
/// identify, pubsub and most other libp2p protocols. The length is checked against the caller's
/// maximum before anything is allocated.
/// </summary>
public static class LengthPrefixed
{
    /// <summary>
    /// Slices one message off the front of <paramref name="buffer"/>. Returns false when more bytes
    /// are needed; throws <see cref="OversizedMessageException"/> when the announced length is over
    /// <paramref name="maxLength"/>.
    /// </summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, int maxLength, string protocolId,
        out ReadOnlySequence<byte> message)
    {
        message = default;
        SequenceReader<byte> reader = new(buffer);
        ulong length;
        try
        {
            if (!Varint.TryRead(ref reader, out length))
                return false;
        }
        catch (ProtocolViolationException e) when (e.ProtocolId == Varint.ProtocolId)
        {
            throw new ProtocolViolationException(protocolId, "bad length prefix: " + e.Message, e);
        }
        if (length > (ulong)maxLength)
            throw new OversizedMessageException(protocolId, length, maxLength);
        if (reader.Remaining < (long)length)
            return false;
        message = buffer.Slice(reader.Position, (long)length);
        buffer = buffer.Slice(message.End);
        return true;
    }

    /// <summary>Writes <c>uvarint(payload.Length) || payload</c> to <paramref name="writer"/>.</summary>
    public static void Write(IBufferWriter<byte> writer, ReadOnlySpan<byte> payload)
    {
        Span<byte> span = writer.GetSpan(Varint.MaxLength + payload.Length);
        int n = Varint.Write(span, (ulong)payload.Length);
        payload.CopyTo(span[n..]);
        writer.Advance(n + payload.Length);
    }

    public static byte[] Encode(ReadOnlySpan<byte> payload)
    {
        byte[] bytes = new byte[Varint.GetByteCount((ulong)payload.Length) + payload.Length];
        int n = Varint.Write(bytes, (ulong)payload.Length);
        payload.CopyTo(bytes.AsSpan(n));
        return bytes;
    }
}
