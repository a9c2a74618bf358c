using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace Echo.Protocols.EchoGo;

/// <summary>One line read from an echo-go stream.</summary>
/// <param name="Text">The line without its '\n', at most the reader's limit in bytes (cut on a character boundary).</param>
/// <param name="Length">How many bytes the whole line had.</param>
/// <param name="Cut">True when the line was longer than the limit and the rest was discarded.</param>
public readonly record struct EchoGoReadLine(string Text, long Length, bool Cut);

/// <summary>
/// Reads '\n'-terminated lines from a pipe. A line is never held beyond a fixed number of bytes: the
/// rest of a longer one is read and discarded up to its '\n', and the line is returned cut.
/// </summary>
public static class EchoGoLineReader
{
    /// <summary>
    /// The next line without its '\n', the last unterminated bytes when the remote closed its side, or
    /// null at the end of the stream.
    /// </summary>
    public static async ValueTask<EchoGoReadLine?> ReadLineAsync(PipeReader input, CancellationToken cancellationToken,
        int maxLineBytes = EchoGoLine.MaxLineBytes)
    {
        Kept kept = new(maxLineBytes);
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (buffer.PositionOf((byte)'\n') is { } end)
            {
                EchoGoReadLine line = kept.Finish(buffer.Slice(0, end));
                input.AdvanceTo(buffer.GetPosition(1, end));
                return line;
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                EchoGoReadLine? rest = buffer.IsEmpty && kept.Empty ? null : kept.Finish(buffer);
                input.AdvanceTo(buffer.End);
                return rest;
            }
            if (!kept.Empty || buffer.Length > maxLineBytes)
            {
                // Too long to wait for the '\n' in the pipe: keep what fits, drop the rest as it comes.
                kept.Add(buffer);
                input.AdvanceTo(buffer.End);
            }
            else
                input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>The first bytes of a line too long to leave in the pipe, and how long it was.</summary>
    private sealed class Kept(int limit)
    {
        private byte[]? _bytes;
        private int _count;
        private long _length;

        public bool Empty => _bytes is null;

        public void Add(ReadOnlySequence<byte> part)
        {
            _bytes ??= new byte[limit];
            int take = (int)Math.Min(part.Length, limit - _count);
            part.Slice(0, take).CopyTo(_bytes.AsSpan(_count));
            _count += take;
            _length += part.Length;
        }

        public EchoGoReadLine Finish(ReadOnlySequence<byte> last)
        {
            if (_bytes is null && last.Length <= limit)
                return new EchoGoReadLine(Encoding.UTF8.GetString(last), last.Length, false);
            Add(last);
            ReadOnlySpan<byte> kept = _bytes.AsSpan(0, _count);
            bool cut = _length > _count;
            if (cut)
                kept = kept[..CompleteLength(kept)];
            return new EchoGoReadLine(Encoding.UTF8.GetString(kept), _length, cut);
        }

        /// <summary>The length of <paramref name="utf8"/> without a last character cut in the middle.</summary>
        private static int CompleteLength(ReadOnlySpan<byte> utf8)
        {
            int start = utf8.Length - 1;
            while (start >= 0 && utf8.Length - start <= 3 && (utf8[start] & 0xC0) == 0x80)
                start--;
            if (start < 0)
                return utf8.Length;
            byte lead = utf8[start];
            int need = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
            return start + need <= utf8.Length ? utf8.Length : start;
        }
    }
}
