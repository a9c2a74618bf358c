using System.Buffers.Binary;
using Echo.Net.Framing;
using Echo.Net.Host;

namespace Echo.Net.Perf;

/// <summary>
/// /perf/1.0.0 (https://github.com/libp2p/specs/blob/master/perf/perf.md): measures throughput.
/// <code>
///   client:  u64 big-endian N (bytes it wants back) | upload bytes ... | half-close
///   server:  reads N, discards the upload until EOF, then sends N bytes and half-closes
/// </code>
/// Served only when enabled: the spec says public nodes should not.
/// </summary>
public static class PerfProtocol
{
    public const string ProtocolId = "/perf/1.0.0";

    /// <summary>What one server stream may be asked to send back; perf runs move gigabytes, not petabytes.</summary>
    public const ulong MaxDownloadBytes = 64UL << 30;

    private const int ChunkSize = 256 * 1024;
    private static readonly byte[] s_zeros = new byte[ChunkSize];

    public static async Task HandleAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        byte[] header = await stream.Input.ReadExactlyAsync(8, ProtocolId, cancellationToken).ConfigureAwait(false)
            ?? throw new UnexpectedEndException(ProtocolId);
        ulong download = BinaryPrimitives.ReadUInt64BigEndian(header);
        if (download > MaxDownloadBytes)
            throw new ProtocolViolationException(ProtocolId, $"asked for {download} bytes, more than {MaxDownloadBytes}");
        await DrainAsync(stream, cancellationToken).ConfigureAwait(false);
        await SendAsync(stream, download, cancellationToken).ConfigureAwait(false);
        await stream.CompleteOutputAsync().ConfigureAwait(false);
    }

    /// <summary>Runs one perf exchange as the client; returns the upload and download durations.</summary>
    public static async Task<PerfResult> RunAsync(P2PStream stream, ulong uploadBytes, ulong downloadBytes,
        TimeProvider time, CancellationToken cancellationToken)
    {
        long start = time.GetTimestamp();
        byte[] header = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(header, downloadBytes);
        await stream.Output.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        await SendAsync(stream, uploadBytes, cancellationToken).ConfigureAwait(false);
        await stream.CompleteOutputAsync().ConfigureAwait(false);
        TimeSpan upload = time.GetElapsedTime(start);
        long received = await DrainAsync(stream, cancellationToken).ConfigureAwait(false);
        TimeSpan total = time.GetElapsedTime(start);
        if ((ulong)received != downloadBytes)
            throw new ProtocolViolationException(ProtocolId, $"expected {downloadBytes} bytes back, got {received}");
        return new PerfResult(uploadBytes, downloadBytes, upload, total - upload, total);
    }

    private static async Task SendAsync(P2PStream stream, ulong count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            int n = (int)Math.Min(count, ChunkSize);
            System.IO.Pipelines.FlushResult flushed = await stream.Output.WriteAsync(s_zeros.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            if (flushed.IsCompleted)
                throw new UnexpectedEndException(ProtocolId);
            count -= (ulong)n;
        }
    }

    private static async Task<long> DrainAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        long total = 0;
        while (true)
        {
            System.IO.Pipelines.ReadResult result = await stream.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            total += result.Buffer.Length;
            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                return total;
        }
    }
}

/// <summary>The timings of one perf exchange.</summary>
public sealed record PerfResult(ulong UploadBytes, ulong DownloadBytes, TimeSpan Upload, TimeSpan Download, TimeSpan Total);
