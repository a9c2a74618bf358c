using System.Buffers;
using System.IO.Pipelines;

namespace Echo.Net.Framing;

/// <summary>Async helpers for reading framed messages from a <see cref="PipeReader"/>.</summary>
public static class PipeExtensions
{
    /// <summary>
    /// Reads one length-prefixed message. Returns null on a clean end of stream before the first
    /// byte; throws <see cref="UnexpectedEndException"/> when the stream ends inside a message.
    /// </summary>
    /// <remarks>
    /// A message larger than what is buffered is copied out and consumed as it arrives, not waited
    /// for whole: a muxer grants its sender more window only for consumed bytes, so waiting for a
    /// message larger than the window would wait forever. The buffer is allocated only after the
    /// length passed <paramref name="maxLength"/>.
    /// </remarks>
    public static async ValueTask<byte[]?> ReadLengthPrefixedAsync(this PipeReader input, int maxLength,
        string protocolId, CancellationToken cancellationToken)
    {
        byte[] message;
        int filled;
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            SequencePosition consumed = buffer.Start;
            SequencePosition examined = buffer.End;
            try
            {
                if (LengthPrefixed.TryRead(ref buffer, maxLength, protocolId, out ReadOnlySequence<byte> whole))
                {
                    // Only the message is consumed and nothing more is examined: bytes a peer
                    // pipelined behind it must wake the next read at once.
                    consumed = examined = whole.End;
                    return whole.ToArray();
                }
                SequenceReader<byte> reader = new(buffer);
                if (Varint.TryRead(ref reader, out ulong length))
                {
                    // The prefix is complete and within the limit (TryRead checked it); the body is not.
                    message = new byte[(int)length];
                    buffer.Slice(reader.Position).CopyTo(message);
                    filled = (int)reader.Remaining;
                    consumed = buffer.End;
                    if (!result.IsCompleted && !result.IsCanceled)
                        break;
                }
                if (result.IsCompleted || result.IsCanceled)
                    return buffer.IsEmpty ? null : throw new UnexpectedEndException(protocolId);
            }
            finally
            {
                input.AdvanceTo(consumed, examined);
            }
        }
        while (filled < message.Length)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> take = result.Buffer.Slice(0, Math.Min(result.Buffer.Length, message.Length - filled));
            take.CopyTo(message.AsSpan(filled));
            filled += (int)take.Length;
            input.AdvanceTo(take.End);
            if (filled < message.Length && (result.IsCompleted || result.IsCanceled))
                throw new UnexpectedEndException(protocolId);
        }
        return message;
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes; null on a clean end of stream before the first byte.</summary>
    public static async ValueTask<byte[]?> ReadExactlyAsync(this PipeReader input, int count, string protocolId,
        CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (buffer.Length >= count)
            {
                byte[] bytes = buffer.Slice(0, count).ToArray();
                input.AdvanceTo(buffer.GetPosition(count));
                return bytes;
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                bool empty = buffer.IsEmpty;
                input.AdvanceTo(buffer.Start, buffer.End);
                return empty ? null : throw new UnexpectedEndException(protocolId);
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Writes one length-prefixed message and flushes.</summary>
    public static async ValueTask WriteLengthPrefixedAsync(this PipeWriter output, ReadOnlyMemory<byte> payload,
        CancellationToken cancellationToken)
    {
        LengthPrefixed.Write(output, payload.Span);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
