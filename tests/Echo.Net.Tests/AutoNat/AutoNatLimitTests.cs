using System.IO.Pipelines;
using System.Net;
using Echo.Net.AutoNat;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.ResourceManager;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.AutoNat;

/// <summary>
/// L-autonat-streams and L-autonat-memory: two streams per peer on each AutoNAT protocol, and the
/// bounds on what AutoNAT remembers (peers of the rate limit, answers per address, candidates).
/// </summary>
public sealed class AutoNatLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<Libp2pHost> StartAsync(AutoNatOptions autoNat, TimeProvider time)
    {
        HostOptions options = new()
        {
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            EnableAutoNat = true,
            AutoNat = autoNat,
        };
        Libp2pHost host = new(KeyPair.Generate(), options, NullLoggerFactory.Instance, time);
        await host.StartAsync(Ct);
        return host;
    }

    [Fact(Timeout = 30_000)]
    public async Task EachAutoNatProtocol_TwoStreamsFromAPeerAreServed_TheThirdIsResetAndCounted()
    {
        // The clock stands still: a served stream waits for its request for as long as the test runs.
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        await using Libp2pHost server = await StartAsync(new AutoNatOptions
        {
            IsPublic = a => AutoNatAddresses.IpOf(a) is { } ip && IPAddress.IsLoopback(ip),
            ServerMode = AutoNatServerMode.On,
            Candidates = () => [],
        }, time);
        await using Libp2pHost client = await TestHosts.StartAsync();
        await client.DialAsync(TestHosts.AddressOf(server), Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);

        // Identify both ways, and its streams gone: from here on the server's inbound streams are the test's.
        await TestHosts.Identified(client, server.PeerId).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await TestHosts.Identified(server, client.PeerId).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await TestHosts.WaitUntilAsync(() => server.ResourceSnapshot().InboundStreams == 0, "identify's streams ended");

        string[] protocols = [AutoNatCodec.DialRequestProtocol, AutoNatCodec.V1Protocol, AutoNatCodec.DialBackProtocol];
        List<P2PStream> held = [];
        int served = 0;
        for (int i = 0; i < protocols.Length; i++)
        {
            for (int j = 0; j < 2; j++)
                held.Add(await client.OpenStreamAsync(server.PeerId, protocols[i], Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct));
            served += 2;
            await TestHosts.WaitUntilAsync(() => server.ResourceSnapshot().InboundStreams == served, $"two {protocols[i]} streams are served");

            await Assert.ThrowsAnyAsync<IOException>(async () =>
            {
                P2PStream third = await client.OpenStreamAsync(server.PeerId, protocols[i], Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
                ReadResult read = await third.Input.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
                Assert.Fail($"a third {protocols[i]} stream was served (completed: {read.IsCompleted})");
            });
            int refused = i + 1;
            await TestHosts.WaitUntilAsync(() => server.ResourceSnapshot().Refused[LimitKind.StreamsPerProtocol] == refused,
                $"the third {protocols[i]} stream is counted");
            Assert.Equal(served, server.ResourceSnapshot().InboundStreams);
        }
        foreach (P2PStream stream in held)
            stream.Reset();
    }

    [Fact]
    public void TheRateLimiter_Remembers4096Peers_TheNextForgetsThoseIdleForAMinute()
    {
        Assert.Equal(4096, AutoNatLimits.MaxRateLimitedPeers);
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        AutoNatRateLimiter limiter = new(int.MaxValue, 1, time);
        Assert.True(limiter.TryAcquire(KeyPair.Generate().PeerId));          // idle from the next minute on
        time.Advance(AutoNatRateLimiter.Window);
        for (int i = 1; i < AutoNatLimits.MaxRateLimitedPeers; i++)
            Assert.True(limiter.TryAcquire(KeyPair.Generate().PeerId));
        Assert.Equal(AutoNatLimits.MaxRateLimitedPeers, limiter.RememberedPeers);

        // One more: the idle peer is forgotten to make room.
        Assert.True(limiter.TryAcquire(KeyPair.Generate().PeerId));
        Assert.Equal(AutoNatLimits.MaxRateLimitedPeers, limiter.RememberedPeers);
    }

    [Fact]
    public void TheTracker_Keeps32AnswersPerAddress_TheNewest()
    {
        Assert.Equal(32, ReachabilityTracker.MaxAnswersPerAddress);
        Multiaddr address = Multiaddr.Parse("/ip4/1.2.3.4/tcp/4001");
        // An old "unreachable" then 32 "reachable": the old one is dropped for the newest, and the 32
        // kept are more than a threshold of 31. 33 "reachable": 32 are kept, not more than 32.
        (bool, int, ReachabilityStatus)[] cases = [(false, 31, ReachabilityStatus.Public), (true, 32, ReachabilityStatus.Unknown)];
        foreach ((bool firstReachable, int threshold, ReachabilityStatus expected) in cases)
        {
            FakeTimeProvider time = new(DateTimeOffset.UtcNow);
            ReachabilityTracker tracker = new(threshold, TimeSpan.FromMinutes(15), time);
            tracker.SetCandidates([address]);
            tracker.Record(address, KeyPair.Generate().PeerId, reachable: firstReachable);
            for (int i = 0; i < 32; i++)
            {
                time.Advance(TimeSpan.FromSeconds(1));
                tracker.Record(address, KeyPair.Generate().PeerId, reachable: true);
            }
            Assert.Equal(expected, tracker.VerdictOf(address));
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task ARound_ChecksTheFirstEightCandidates_TheNinthIsLeftOut()
    {
        List<Multiaddr> candidates = [.. Enumerable.Range(1, 9).Select(i => Multiaddr.Parse($"/ip4/1.2.3.{i}/tcp/4001"))];
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        await using Libp2pHost host = await StartAsync(new AutoNatOptions
        {
            IsPublic = _ => true,
            ServerMode = AutoNatServerMode.Off,
            Candidates = () => candidates,
        }, time);

        await host.AutoNat!.RoundAsync(Ct);

        Assert.Equal(candidates.Take(8), host.AutoNat.Tracker.Candidates);
    }
}
