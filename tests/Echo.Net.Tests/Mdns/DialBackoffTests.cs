using Echo.Net.Identity;
using Echo.Net.Mdns;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Mdns;

public sealed class DialBackoffTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Waits_double_per_failure_up_to_the_limit_and_a_success_resets()
    {
        PeerId peer = MdnsMessagesTests.NewPeer();
        DialBackoff backoff = new(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(60));
        Assert.True(backoff.CanDial(peer, T0));
        double[] waits = [.. Enumerable.Range(0, 8).Select(_ => backoff.Failed(peer, T0).TotalSeconds)];
        Assert.Equal([2, 4, 8, 16, 32, 60, 60, 60], waits);
        Assert.False(backoff.CanDial(peer, T0 + TimeSpan.FromSeconds(59)));
        Assert.True(backoff.CanDial(peer, T0 + TimeSpan.FromSeconds(60)));
        backoff.Succeeded(peer);
        Assert.Equal(TimeSpan.FromSeconds(2), backoff.Failed(peer, T0));
    }

    [Fact]
    public void Many_failing_peers_are_remembered_within_the_capacity()
    {
        DialBackoff backoff = new(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(60), capacity: 16);
        for (int i = 0; i < 100; i++)
            backoff.Failed(MdnsMessagesTests.NewPeer(), T0);
        Assert.Equal(16, backoff.Count);
    }
}

public sealed class MdnsAutoDialerTests
{
    private static Multiaddr Address(PeerId peer, int port = 4001) => Multiaddr.Parse($"/ip4/10.0.0.2/tcp/{port}").WithPeerId(peer);

    [Fact(Timeout = 10_000)]
    public async Task Self_and_connected_peers_are_not_dialed()
    {
        PeerId self = MdnsMessagesTests.NewPeer(), connected = MdnsMessagesTests.NewPeer();
        int dials = 0;
        await using MdnsAutoDialer dialer = new(self, p => p.Equals(connected), (_, _) => { Interlocked.Increment(ref dials); return Task.CompletedTask; },
            new MdnsOptions(), NullLogger.Instance);
        Assert.False(dialer.Offer(self, [Address(self)]));
        Assert.False(dialer.Offer(connected, [Address(connected)]));
        Assert.Equal(0, dials);
    }

    [Fact(Timeout = 10_000)]
    public async Task At_most_the_cap_dial_at_once_and_one_dial_per_peer()
    {
        TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int running = 0, peak = 0, started = 0;
        TaskCompletionSource threeRunning = new(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task Dial(Multiaddr address, CancellationToken cancellationToken)
        {
            int now = Interlocked.Increment(ref running);
            Interlocked.Increment(ref started);
            InterlockedMax(ref peak, now);
            if (now == 3)
                threeRunning.TrySetResult();
            await release.Task.WaitAsync(cancellationToken);
            Interlocked.Decrement(ref running);
        }
        await using MdnsAutoDialer dialer = new(MdnsMessagesTests.NewPeer(), _ => false, Dial,
            new MdnsOptions { MaxConcurrentDials = 3, MaxDialsPerSecond = 100 }, NullLogger.Instance);
        PeerId[] peers = [.. Enumerable.Range(0, 20).Select(_ => MdnsMessagesTests.NewPeer())];
        foreach (PeerId peer in peers)
            Assert.True(dialer.Offer(peer, [Address(peer)]));
        Assert.False(dialer.Offer(peers[0], [Address(peers[0])]));                        // already being dialed
        await threeRunning.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal(3, Volatile.Read(ref started));
        release.SetResult();
        while (dialer.Pending > 0)
            await Task.Delay(10, TestContext.Current.CancellationToken);
        Assert.Equal(3, peak);
        Assert.Equal(20, started);
    }

    [Fact(Timeout = 10_000)]
    public async Task A_failed_peer_backs_off_and_every_address_is_tried_in_one_attempt()
    {
        FakeTimeProvider time = new();
        PeerId peer = MdnsMessagesTests.NewPeer();
        List<int> tried = [];
        Task Dial(Multiaddr address, CancellationToken cancellationToken)
        {
            lock (tried)
                tried.Add(address.TryGetTcpEndPoint(out System.Net.IPEndPoint? e) ? e!.Port : 0);
            throw new IOException("refused");
        }
        await using MdnsAutoDialer dialer = new(MdnsMessagesTests.NewPeer(), _ => false, Dial,
            new MdnsOptions { DialBackoff = TimeSpan.FromSeconds(2) }, NullLogger.Instance, time);
        Assert.True(dialer.Offer(peer, [Address(peer, 1), Address(peer, 2)]));
        while (dialer.Pending > 0)
            await Task.Delay(10, TestContext.Current.CancellationToken);
        Assert.Equal([1, 2], tried);
        Assert.False(dialer.Offer(peer, [Address(peer, 1)]));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(dialer.Offer(peer, [Address(peer, 1)]));
        while (dialer.Pending > 0)
            await Task.Delay(10, TestContext.Current.CancellationToken);
        time.Advance(TimeSpan.FromSeconds(3));
        Assert.False(dialer.Offer(peer, [Address(peer, 1)]));                             // now 4 s
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(dialer.Offer(peer, [Address(peer, 1)]));
    }

    [Fact(Timeout = 10_000)]
    public async Task Dials_start_at_most_the_rate_a_second_and_refused_peers_are_taken_later()
    {
        FakeTimeProvider time = new();
        TaskCompletionSource never = new();
        // Dials that never end (their timeout, on the same clock, is longer than the minute advanced below).
        await using MdnsAutoDialer dialer = new(MdnsMessagesTests.NewPeer(), _ => false, (_, ct) => never.Task.WaitAsync(ct),
            new MdnsOptions { MaxDialsPerSecond = 10, MaxConcurrentDials = 3, DialTimeout = TimeSpan.FromHours(1) }, NullLogger.Instance, time);
        PeerId[] peers = [.. Enumerable.Range(0, 40).Select(_ => MdnsMessagesTests.NewPeer())];
        int Offer(IEnumerable<PeerId> some) => some.Count(p => dialer.Offer(p, [Address(p)]));

        Assert.Equal(10, Offer(peers[..20]));                   // a burst of one second's worth
        Assert.Equal(0, Offer(peers[10..20]));
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(5, Offer(peers[10..20]));                  // refilled at 10 a second
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(10, Offer(peers[15..40]));                 // never more than one second's worth saved up
        Assert.Equal(25, dialer.Pending);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
