using System.Buffers;
using System.IO.Pipelines;
using Echo.Net.Framing;

namespace Echo.Net.Pubsub;

/// <summary>
/// Reads one length-prefixed RPC frame, copying the body out as it arrives.
/// </summary>
/// <remarks>
/// Unlike <see cref="PipeExtensions.ReadLengthPrefixedAsync"/>, which leaves the bytes in the pipe
/// until the whole frame is there, this consumes them as they come. That matters on yamux, which grants
/// the sender more window only for consumed bytes: a frame larger than the 256 KiB window would
/// otherwise never complete. The length is checked against the limit before the body buffer is allocated.
/// </remarks>
internal static class PubsubFrameReader
{
    public static async ValueTask<byte[]?> ReadFrameAsync(PipeReader input, int maxLength, string protocolId,
        CancellationToken cancellationToken)
    {
        ulong length;
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            SequenceReader<byte> reader = new(buffer);
            bool complete;
            try
            {
                complete = Varint.TryRead(ref reader, out length);
            }
            catch (ProtocolViolationException e) when (e.ProtocolId == Varint.ProtocolId)
            {
                input.AdvanceTo(buffer.Start);
                throw new ProtocolViolationException(protocolId, "bad length prefix: " + e.Message, e);
            }
            if (complete)
            {
                if (length > (ulong)maxLength)
                {
                    input.AdvanceTo(buffer.Start);
                    throw new OversizedMessageException(protocolId, length, maxLength);
                }
                input.AdvanceTo(reader.Position);
                break;
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                bool empty = buffer.IsEmpty;
                input.AdvanceTo(buffer.End);
                return empty ? null : throw new UnexpectedEndException(protocolId);
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
        byte[] frame = new byte[(int)length];
        int filled = 0;
        while (filled < frame.Length)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            int take = (int)Math.Min(buffer.Length, frame.Length - filled);
            buffer.Slice(0, take).CopyTo(frame.AsSpan(filled));
            filled += take;
            input.AdvanceTo(buffer.GetPosition(take));
            if (filled < frame.Length && (result.IsCompleted || result.IsCanceled))
                throw new UnexpectedEndException(protocolId);
        }
        return frame;
    }
}
