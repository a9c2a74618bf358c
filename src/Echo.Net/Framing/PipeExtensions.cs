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
    public static async ValueTask<byte[]?> ReadLengthPrefixedAsync(this PipeReader input, int maxLength,
        string protocolId, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool done = false;
            try
            {
                if (LengthPrefixed.TryRead(ref buffer, maxLength, protocolId, out ReadOnlySequence<byte> message))
                {
                    done = true;
                    return message.ToArray();
                }
                if (result.IsCompleted || result.IsCanceled)
                    return buffer.IsEmpty ? null : throw new UnexpectedEndException(protocolId);
            }
            finally
            {
                // After a message, only it is consumed and nothing more is examined: bytes a peer
                // pipelined behind it must wake the next read at once.
                if (done)
                    input.AdvanceTo(buffer.Start);
                else
                    input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            }
        }
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
