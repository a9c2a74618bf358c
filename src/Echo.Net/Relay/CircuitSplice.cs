using System.Buffers;
using System.IO.Pipelines;

namespace Echo.Net.Relay;

/// <summary>One end of a circuit the relay splices: a stream, how to half-close it and how to reset it.</summary>
internal sealed record CircuitEnd(IDuplexPipe Pipe, Func<ValueTask> CompleteOutput, Action Reset);

/// <summary>How a spliced circuit ended and what it carried.</summary>
/// <param name="Reason">"closed" (both sides finished), "data limit", "duration limit", "reset" (a side failed) or "stopped".</param>
/// <param name="FromA">Bytes relayed from A to B.</param>
/// <param name="FromB">Bytes relayed from B to A.</param>
internal sealed record CircuitOutcome(string Reason, long FromA, long FromB);

/// <summary>
/// Relays bytes between two streams, one copy loop per direction straight from one pipe's buffers to
/// the other's (no buffer of its own), each counting what it passed: a direction that would pass more
/// than the data limit passes exactly the limit and both streams are reset; at the duration limit both
/// are reset; a side that finishes half-closes the other; a side that fails resets both.
/// </summary>
internal static class CircuitSplice
{
    private enum End
    {
        Completed,
        DataLimit,
        Failed,
        Cancelled,
    }

    public static async Task<CircuitOutcome> RunAsync(CircuitEnd a, CircuitEnd b, TimeSpan? duration, long? dataLimit,
        TimeProvider time, CancellationToken cancellationToken)
    {
        using CancellationTokenSource timer = duration is { } d ? new CancellationTokenSource(d, time) : new CancellationTokenSource();
        using CancellationTokenSource cut = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        long[] counts = new long[2];
        Task<End> fromA = CopyAsync(a.Pipe.Input, b.Pipe.Output, b.CompleteOutput, dataLimit, counts, 0, cut.Token);
        Task<End> fromB = CopyAsync(b.Pipe.Input, a.Pipe.Output, a.CompleteOutput, dataLimit, counts, 1, cut.Token);
        bool reset = false;
        Task<End> first = await Task.WhenAny(fromA, fromB).ConfigureAwait(false);
        if (await first.ConfigureAwait(false) != End.Completed)
        {
            reset = true;
            a.Reset();
            b.Reset();
            await cut.CancelAsync().ConfigureAwait(false);
        }
        End[] ends = await Task.WhenAll(fromA, fromB).ConfigureAwait(false);
        if (!reset && ends.Any(e => e != End.Completed))
        {
            a.Reset();
            b.Reset();
        }
        string reason = ends.Contains(End.DataLimit) ? "data limit"
            : timer.IsCancellationRequested ? "duration limit"
            : cancellationToken.IsCancellationRequested ? "stopped"
            : ends.All(e => e == End.Completed) ? "closed"
            : "reset";
        return new CircuitOutcome(reason, Interlocked.Read(ref counts[0]), Interlocked.Read(ref counts[1]));
    }

    private static async Task<End> CopyAsync(PipeReader from, PipeWriter to, Func<ValueTask> completeOutput, long? limit,
        long[] counts, int index, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                ReadResult read = await from.ReadAsync(cancellationToken).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                long passed = Interlocked.Read(ref counts[index]);
                bool over = false;
                if (limit is { } max && passed + buffer.Length > max)
                {
                    buffer = buffer.Slice(0, max - passed);
                    over = true;
                }
                foreach (ReadOnlyMemory<byte> segment in buffer)
                    to.Write(segment.Span);
                Interlocked.Add(ref counts[index], buffer.Length);
                from.AdvanceTo(read.Buffer.End);
                if (!buffer.IsEmpty)
                {
                    FlushResult flushed = await to.FlushAsync(cancellationToken).ConfigureAwait(false);
                    if (flushed.IsCompleted || flushed.IsCanceled)
                        return End.Failed;
                }
                if (over)
                    return End.DataLimit;
                if (read.IsCanceled)
                    return End.Failed;
                if (read.IsCompleted)
                {
                    await completeOutput().ConfigureAwait(false);
                    return End.Completed;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return End.Cancelled;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or ProtocolViolationException)
        {
            return End.Failed;
        }
    }
}
