using Echo.Net.Host;
using Echo.Net.Kad;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Kad;

/// <summary>
/// L-kad-refresh on the DHT's clock: the routing table is refreshed on the first DHT peer, then every
/// 10 minutes; while it holds fewer than 10 peers, at most once a minute.
/// </summary>
public sealed class KadRefreshTests : IAsyncDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly List<IAsyncDisposable> _owned = [];

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
    }

    /// <summary>A DHT with <paramref name="options"/> on <paramref name="time"/>, with one DHT server (on the real clock) connected.</summary>
    private async Task<KadDht> ClientWithOneServerAsync(FakeTimeProvider time, KadOptions options)
    {
        Libp2pHost server = await TestHosts.StartAsync();
        KadDht serverDht = new(server, new KadOptions { ForcedMode = KadMode.Server }, NullLoggerFactory.Instance);
        serverDht.Start();
        Libp2pHost client = await TestHosts.StartAsync();
        KadDht dht = new(client, options, NullLoggerFactory.Instance, time);
        dht.Start();
        _owned.AddRange([server, serverDht, client, dht]);
        Task identified = TestHosts.Identified(client, server.PeerId);
        await client.DialAsync(TestHosts.AddressOf(server), Ct);
        await identified.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        return dht;
    }

    private static Task WaitingUntilAsync(KadDht dht, DateTimeOffset due, int refreshes) =>
        TestHosts.WaitUntilAsync(() => dht.RefreshWaitUntil == due && dht.RefreshCount == refreshes,
            $"refresh {refreshes} done and the next due at {due:HH:mm:ss.fffffff} (now waiting until {dht.RefreshWaitUntil:HH:mm:ss.fffffff}, {dht.RefreshCount} refreshes)",
            TimeSpan.FromSeconds(20));

    [Fact]
    public void Defaults_TenMinutes_TenPeers_OneMinute()
    {
        KadOptions options = new();
        Assert.Equal(TimeSpan.FromMinutes(10), options.RefreshInterval);
        Assert.Equal(10, options.LowWaterMark);
        Assert.Equal(TimeSpan.FromMinutes(1), options.MinRefreshGap);
    }

    [Fact(Timeout = 60_000)]
    public async Task ATableBelowTenPeers_IsRefreshedOnTheFirstPeer_ThenOnceAMinute_NotSooner()
    {
        FakeTimeProvider time = new(Start);
        KadDht dht = await ClientWithOneServerAsync(time, new KadOptions { ForcedMode = KadMode.Client });
        Assert.Equal(1, dht.RoutingTableSize);

        await WaitingUntilAsync(dht, Start + TimeSpan.FromMinutes(1), refreshes: 1);
        time.Advance(TimeSpan.FromMinutes(1) - TimeSpan.FromTicks(1));
        Assert.Equal(1, dht.RefreshCount);
        Assert.Equal(Start + TimeSpan.FromMinutes(1), dht.RefreshWaitUntil);

        time.Advance(TimeSpan.FromTicks(1));
        await WaitingUntilAsync(dht, Start + TimeSpan.FromMinutes(2), refreshes: 2);
    }

    [Fact(Timeout = 60_000)]
    public async Task ATableAtTheLowWaterMark_IsRefreshedEveryTenMinutes_NotSooner()
    {
        FakeTimeProvider time = new(Start);
        KadDht dht = await ClientWithOneServerAsync(time, new KadOptions { ForcedMode = KadMode.Client, LowWaterMark = 1 });

        await WaitingUntilAsync(dht, Start + TimeSpan.FromMinutes(10), refreshes: 1);
        time.Advance(TimeSpan.FromMinutes(10) - TimeSpan.FromTicks(1));
        Assert.Equal(1, dht.RefreshCount);
        Assert.Equal(Start + TimeSpan.FromMinutes(10), dht.RefreshWaitUntil);

        time.Advance(TimeSpan.FromTicks(1));
        await WaitingUntilAsync(dht, Start + TimeSpan.FromMinutes(20), refreshes: 2);
    }
}
