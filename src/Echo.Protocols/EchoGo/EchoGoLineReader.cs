using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Echo.Net;

namespace Echo.Protocols.EchoGo;

/// <summary>Reads '\n'-terminated lines from a pipe, refusing a line longer than the limit before copying it.</summary>
public static class EchoGoLineReader
{
    /// <summary>
    /// The next line without its '\n', the last unterminated bytes when the remote closed its side, or
    /// null at the end of the stream.
    /// </summary>
    /// <exception cref="OversizedMessageException">More than <paramref name="maxLineBytes"/> bytes came without a '\n'.</exception>
    public static async ValueTask<string?> ReadLineAsync(PipeReader input, CancellationToken cancellationToken,
        int maxLineBytes = EchoGoLine.MaxLineBytes)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            SequencePosition? newline = buffer.PositionOf((byte)'\n');
            if (newline is { } end)
            {
                ReadOnlySequence<byte> line = buffer.Slice(0, end);
                if (line.Length > maxLineBytes)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    throw new OversizedMessageException(EchoGoLine.ProtocolId, (ulong)line.Length, maxLineBytes);
                }
                string text = Encoding.UTF8.GetString(line);
                input.AdvanceTo(buffer.GetPosition(1, end));
                return text;
            }
            if (buffer.Length > maxLineBytes)
            {
                input.AdvanceTo(buffer.Start, buffer.End);
                throw new OversizedMessageException(EchoGoLine.ProtocolId, (ulong)buffer.Length, maxLineBytes);
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                string? rest = buffer.IsEmpty ? null : Encoding.UTF8.GetString(buffer);
                input.AdvanceTo(buffer.End);
                return rest;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
