using Echo.Net.Host;
using Echo.Net.ResourceManager;

namespace Echo.Net.Tests.Host;

/// <summary>The host gives every connection a scope in its memory budget and closes it when the connection goes.</summary>
public class HostMemoryBudgetTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task Connection_HoldsAScopeWhileOpen_ReleasedWhenItCloses()
    {
        await using Libp2pHost a = await TestHosts.StartAsync(new HostOptions { MemoryBudgetBytes = 64L * 1024 * 1024 });
        Libp2pHost b = await TestHosts.StartAsync();
        try
        {
            Assert.Equal(64L * 1024 * 1024, a.MemoryBudget.LimitBytes);
            Task<Connection> disconnected = TestHosts.NextDisconnected(a, b.PeerId);
            await b.DialAsync(TestHosts.AddressOf(a), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
            await TestHosts.WaitUntilAsync(() => a.MemoryBudget.Snapshot() is { Connections: 1, Peers: 1 }, "a's connection to b has a scope");
            Assert.Equal(1, b.MemoryBudget.Snapshot().Connections);

            await b.DisposeAsync();
            await disconnected.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            await TestHosts.WaitUntilAsync(() => a.MemoryBudget.Snapshot() is { Connections: 0, InUseBytes: 0 }, "a's scope closed");
            Assert.Equal(0, b.MemoryBudget.Snapshot().Connections);
        }
        finally
        {
            await b.DisposeAsync();
        }
    }
}
