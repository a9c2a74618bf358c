using System.IO.Pipelines;
using Echo.Net.Host;
using Echo.Net.Relay;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Relay;

/// <summary>The relay's copy loops: each direction counted and cut at the data limit, both cut at the duration limit.</summary>
public class CircuitSpliceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>One side of a circuit as the relay sees it (a stream), and the peer's end of it.</summary>
    private sealed class Side
    {
        public Pipe ToRelay { get; } = new(new PipeOptions(pauseWriterThreshold: 0));
        public Pipe FromRelay { get; } = new(new PipeOptions(pauseWriterThreshold: 0));
        public TaskCompletionSource WasReset { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource HalfClosed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CircuitEnd End => new(new DuplexPipe(ToRelay.Reader, FromRelay.Writer), () =>
        {
            HalfClosed.TrySetResult();
            return FromRelay.Writer.CompleteAsync();
        }, () =>
        {
            WasReset.TrySetResult();
            ToRelay.Reader.CancelPendingRead();
            FromRelay.Writer.CancelPendingFlush();
        });
    }

    /// <summary>Reads until the writer completed; counts the bytes.</summary>
    private static async Task<long> DrainAsync(PipeReader reader)
    {
        long total = 0;
        while (true)
        {
            ReadResult result = await reader.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
            total += result.Buffer.Length;
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                return total;
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task ADirectionPassingMoreThanTheDataLimit_PassesExactlyTheLimit_ThenBothSidesAreReset()
    {
        Side a = new(), b = new();
        Task<CircuitOutcome> splice = CircuitSplice.RunAsync(a.End, b.End, TimeSpan.FromMinutes(2), 1 << 17, TimeProvider.System, Ct);
        byte[] chunk = new byte[8192];
        for (int i = 0; i < 25; i++)   // 200 KiB
            await a.ToRelay.Writer.WriteAsync(chunk, Ct);
        CircuitOutcome outcome = await splice.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await b.FromRelay.Writer.CompleteAsync();   // the splice is over: what it wrote is all there is
        long received = await DrainAsync(b.FromRelay.Reader);

        Assert.Equal("data limit", outcome.Reason);
        Assert.Equal(131072, outcome.FromA);
        Assert.Equal(131072, received);
        Assert.True(a.WasReset.Task.IsCompleted && b.WasReset.Task.IsCompleted);
    }

    [Fact(Timeout = 30_000)]
    public async Task UpToTheDataLimit_BothWays_NothingIsCut_AndHalfClosesPass()
    {
        Side a = new(), b = new();
        Task<CircuitOutcome> splice = CircuitSplice.RunAsync(a.End, b.End, TimeSpan.FromMinutes(2), 1 << 17, TimeProvider.System, Ct);
        await a.ToRelay.Writer.WriteAsync(new byte[1 << 17], Ct);
        await b.ToRelay.Writer.WriteAsync(new byte[1000], Ct);
        await a.ToRelay.Writer.CompleteAsync();
        await b.ToRelay.Writer.CompleteAsync();
        CircuitOutcome outcome = await splice.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        Assert.Equal(new CircuitOutcome("closed", 1 << 17, 1000), outcome);
        Assert.True(a.HalfClosed.Task.IsCompleted && b.HalfClosed.Task.IsCompleted);
        Assert.False(a.WasReset.Task.IsCompleted || b.WasReset.Task.IsCompleted);
        Assert.Equal(1 << 17, await DrainAsync(b.FromRelay.Reader));
    }

    [Fact(Timeout = 30_000)]
    public async Task TheCircuitIsCutAtTheDurationLimit_NotBefore()
    {
        FakeTimeProvider time = new();
        Side a = new(), b = new();
        Task<CircuitOutcome> splice = CircuitSplice.RunAsync(a.End, b.End, TimeSpan.FromMinutes(2), 1 << 17, time, Ct);
        await a.ToRelay.Writer.WriteAsync(new byte[10], Ct);
        ReadResult first = await b.FromRelay.Reader.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(10, first.Buffer.Length);
        b.FromRelay.Reader.AdvanceTo(first.Buffer.End);

        time.Advance(TimeSpan.FromSeconds(119));
        await b.ToRelay.Writer.WriteAsync(new byte[20], Ct);
        ReadResult second = await a.FromRelay.Reader.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(20, second.Buffer.Length);
        a.FromRelay.Reader.AdvanceTo(second.Buffer.End);
        Assert.False(splice.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(1));
        CircuitOutcome outcome = await splice.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(new CircuitOutcome("duration limit", 10, 20), outcome);
        Assert.True(a.WasReset.Task.IsCompleted && b.WasReset.Task.IsCompleted);
    }
}
