using System.Collections.Concurrent;
using Echo.Net.Host;
using Echo.Net.Identity;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Host;

public class RedialerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly RedialOptions Defaults = new();

    [Fact]
    public void Delay_DoublesFromOneSecondUpToFiveMinutes()
    {
        double[] seconds = [.. Enumerable.Range(0, 12).Select(n => Defaults.Delay(n, 0.5).TotalSeconds)];
        Assert.Equal([1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300], seconds);
        Assert.Equal(TimeSpan.FromMinutes(5), Defaults.Delay(int.MaxValue, 0.5));
    }

    [Fact]
    public void Delay_IsJitteredWithinTwentyPercentAndNeverAboveTheMaximum()
    {
        Assert.Equal(0.8, Defaults.Delay(0, 0).TotalSeconds, 3);
        Assert.Equal(1.2, Defaults.Delay(0, 0.999999).TotalSeconds, 3);
        Assert.Equal(3.2, Defaults.Delay(2, 0).TotalSeconds, 3);
        Assert.Equal(TimeSpan.FromMinutes(5), Defaults.Delay(20, 0.999999));
        Assert.Equal(TimeSpan.FromMinutes(4), Defaults.Delay(20, 0));
        Random random = new(7);
        for (int i = 0; i < 1000; i++)
        {
            TimeSpan delay = Defaults.Delay(i % 12, random.NextDouble());
            Assert.InRange(delay, TimeSpan.FromSeconds(0.8), TimeSpan.FromMinutes(5));
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task FailedDials_AreRetriedAfterAGrowingWait_UntilOneWorks()
    {
        FakeTimeProvider time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        PeerId peer = KeyPair.Generate().PeerId;
        int attempts = 0;
        bool connected = false;
        BlockingCollection<DateTimeOffset> dials = [];
        ConcurrentQueue<DateTimeOffset> due = new();
        DateTimeOffset start = time.GetUtcNow();
        await using Redialer redialer = new((_, _) =>
        {
            dials.Add(time.GetUtcNow(), CancellationToken.None);
            if (Interlocked.Increment(ref attempts) < 4)
                throw new IOException("refused");
            connected = true;
            return Task.CompletedTask;
        }, _ => connected, new RedialOptions { Jitter = 0 }, NullLogger.Instance, time);
        // The event may run after the test moved the clock on: keep the due time itself.
        redialer.Scheduled += (_, at) => due.Enqueue(at);

        Assert.True(redialer.Start(peer));
        Assert.False(redialer.Start(peer));    // one loop per peer
        foreach (int seconds in new[] { 1, 2, 4, 8 })
        {
            await WaitUntil(() => redialer.NextDial(peer) == time.GetUtcNow() + TimeSpan.FromSeconds(seconds));
            time.Advance(TimeSpan.FromSeconds(seconds) - TimeSpan.FromMilliseconds(1));
            Assert.False(dials.TryTake(out _), "dialed before the wait ended");
            time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.True(dials.TryTake(out _, TimeSpan.FromSeconds(10)), $"no dial after {seconds} s");
            if (seconds == 8)
                break;
        }
        await WaitUntil(() => redialer.Count == 0);
        Assert.Equal(4, attempts);
        // Each wait starts at the failed dial before it: 1 s, then 2, 4 and 8 s after the dials at 1, 3 and 7 s.
        Assert.Equal([1.0, 3, 7, 15], due.Select(d => (d - start).TotalSeconds));
    }

    [Fact(Timeout = 30_000)]
    public async Task Stop_EndsTheRedialsOfThatPeer()
    {
        FakeTimeProvider time = new();
        PeerId peer = KeyPair.Generate().PeerId;
        int attempts = 0;
        await using Redialer redialer = new((_, _) =>
        {
            Interlocked.Increment(ref attempts);
            throw new IOException("refused");
        }, _ => false, new RedialOptions { Jitter = 0 }, NullLogger.Instance, time);
        redialer.Start(peer, TimeSpan.Zero);
        await WaitUntil(() => Volatile.Read(ref attempts) == 1 && redialer.NextDial(peer) is not null);

        redialer.Stop(peer);
        await WaitUntil(() => redialer.Count == 0);
        time.Advance(TimeSpan.FromMinutes(10));

        Assert.Equal(1, Volatile.Read(ref attempts));
        Assert.Null(redialer.NextDial(peer));
    }

    [Fact(Timeout = 30_000)]
    public async Task ManyPeers_AreDialedAtMostTheBoundAtOnce()
    {
        TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int running = 0, most = 0, done = 0;
        HashSet<PeerId> connected = [];
        await using Redialer redialer = new(async (peer, cancellationToken) =>
        {
            int now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            await release.Task.WaitAsync(cancellationToken);
            Interlocked.Decrement(ref running);
            lock (connected)
                connected.Add(peer);
            Interlocked.Increment(ref done);
        }, peer => { lock (connected) return connected.Contains(peer); }, new RedialOptions { MaxConcurrentDials = 3 }, NullLogger.Instance);
        for (int i = 0; i < 12; i++)
            redialer.Start(KeyPair.Generate().PeerId, TimeSpan.Zero);

        await WaitUntil(() => Volatile.Read(ref running) == 3);
        release.SetResult();
        await WaitUntil(() => Volatile.Read(ref done) == 12);
        Assert.Equal(3, Volatile.Read(ref most));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(10));
        while (!condition())
            await Task.Delay(5, bound.Token);
    }
}
