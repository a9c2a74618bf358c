using System.Runtime.CompilerServices;
using Echo.Protocols.Discovery;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Protocols.Tests.Discovery;

/// <summary>L-dht-operation: a provide or a lookup that stalls is given up after 60 s, not a tick sooner.</summary>
public sealed partial class RoomDiscoveryTests
{
    /// <summary>A DHT whose first provide and first lookup never end until cancelled (each hands its token to the test); later ones answer at once.</summary>
    private sealed class StallingRouting : IProviderRouting
    {
        public TaskCompletionSource<CancellationToken> ProvideStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<CancellationToken> LookupStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int RoutingTableSize => 7;

        public ProviderRoutingMode Mode => ProviderRoutingMode.Client;

        public IReadOnlyList<ProviderLookup> RecentLookups => [];

        private int _provides;

        public int Provides => Volatile.Read(ref _provides);

        public async Task<int> ProvideAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _provides);
            if (ProvideStarted.TrySetResult(cancellationToken))
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            return 20;
        }

        public async IAsyncEnumerable<ProviderRecord> FindProvidersAsync(ReadOnlyMemory<byte> key, int maxCount,
            [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            if (LookupStarted.TrySetResult(cancellationToken))
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            yield break;
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task AStalledProvideAndAStalledLookup_AreEachGivenUpAfterSixtySeconds_NotATickSooner()
    {
        FakeTimeProvider time = new(Start);
        StallingRouting routing = new();
        await using RoomDiscovery discovery = new(routing, Self, new FakeHost(), new RoomDiscoveryOptions(), time, NullLogger.Instance);
        TimeSpan almost = TimeSpan.FromSeconds(60) - TimeSpan.FromTicks(1);

        discovery.Join("lobby");
        CancellationToken provide = await routing.ProvideStarted.Task.WaitAsync(TestNetworks.Wait, TestContext.Current.CancellationToken);
        time.Advance(almost);
        Assert.False(provide.IsCancellationRequested, "the provide was given up before 60 s");
        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(provide.IsCancellationRequested, "the provide still runs at 60 s");

        // The failed provide is retried soon; first the lookup runs, and stalls too.
        CancellationToken lookup = await routing.LookupStarted.Task.WaitAsync(TestNetworks.Wait, TestContext.Current.CancellationToken);
        time.Advance(almost);
        Assert.False(lookup.IsCancellationRequested, "the lookup was given up before 60 s");
        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(lookup.IsCancellationRequested, "the lookup still runs at 60 s");

        // Both ended as failures: the provide, retried 2 s after it gave up (due by now), went through
        // and looked up again at once (no provider answers); the next lookup comes 5 s after that.
        await WaitingUntilAsync(discovery, "lobby", Start + TimeSpan.FromMinutes(2) + new RoomDiscoveryOptions().FirstLookupInterval);
        Assert.Equal(2, routing.Provides);
    }
}
