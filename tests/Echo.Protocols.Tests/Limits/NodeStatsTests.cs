using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Protocols.Tests.Limits;

/// <summary>/stats reads the host's resource manager: connections, streams, the memory budget and refusals by name.</summary>
public sealed class NodeStatsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task Stats_CountConnectionsStreamsAndTheMemoryBudget_AndNameTheHostsRefusals()
    {
        await using Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork bob = await TestNetworks.StartAsync();
        await bob.ConnectAsync(alice.ListenAddresses[0], Ct);
        await TestHosts.WaitUntilAsync(() => alice.GetStats().ConnectionsIn == 1 && bob.GetStats().ConnectionsOut == 1,
            "one connection, inbound at alice and outbound at bob", TimeSpan.FromSeconds(10));

        NodeStats stats = alice.GetStats();
        Assert.Equal(128L * 1024 * 1024, stats.MemoryBudget);
        Assert.True(stats.Streams > 0, "identify, ping and pubsub streams are open");
        // A connection's first 1 MiB of windows (four 256 KiB streams) is outside the budget; only what
        // its streams hold past that is charged, and never more than their windows.
        Assert.InRange(stats.MemoryInUse!.Value, 0, Math.Max(0, (stats.Streams!.Value - 4) * 256L * 1024));

        // A stream refused by a per-protocol limit shows under its name.
        await using Libp2pHost stranger = TestNetworks.NewHost();
        await stranger.StartAsync(Ct);
        await stranger.DialAsync(Multiaddr.Parse(alice.ListenAddresses[0]), Ct);
        List<Task> opens = [];
        for (int i = 0; i < 12; i++)
            opens.Add(stranger.OpenStreamAsync(PeerId.Parse(alice.LocalPeerId), Echo.Protocols.Files.FileProtocol.ProtocolId, Ct));
        await Task.WhenAll(opens.Select(o => o.ContinueWith(_ => { }, TaskScheduler.Default)));
        await TestHosts.WaitUntilAsync(() => alice.GetStats().Refused.GetValueOrDefault("stream.per-protocol") > 0,
            "streams past the file protocol limit are refused and counted", TimeSpan.FromSeconds(10));

        // Everything charged goes back when the peers leave.
        await stranger.DisposeAsync();
        await bob.DisposeAsync();
        await TestHosts.WaitUntilAsync(() => alice.GetStats() is { ConnectionsIn: 0, MemoryInUse: 0 },
            "no connection and nothing of the memory budget held after both peers left", TimeSpan.FromSeconds(10));
    }
}
