using System.Buffers;
using Echo.Net.Identity;
using Echo.Net.ResourceManager;
using Echo.Net.Yamux;

namespace Echo.Net.Tests.Yamux;

/// <summary>
/// A yamux connection whose handler never reads, under the process-wide memory budget: it is capped by
/// its share (streams beyond are refused), another connection is still served, and closing it gives
/// everything back.
/// </summary>
public class YamuxMemoryBudgetTests
{
    private const int Window = YamuxOptions.InitialWindow;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static PeerId NewPeer()
    {
        using KeyPair key = KeyPair.Generate();
        return key.PeerId;
    }

    [Fact]
    public async Task NeverReadingConnection_CappedByItsShare_ReleasedOnClose()
    {
        MemoryBudget budget = new(limitBytes: 8L * 1024 * 1024, connectionShareBytes: 2L * 1024 * 1024,
            peerShareBytes: 4L * 1024 * 1024, connectionFloorBytes: 1024 * 1024);
        const int pushed = 20;
        const int expectedKept = (1024 * 1024 + 2 * 1024 * 1024) / Window;   // floor + share: 12 streams

        RawPeer greedy = RawPeer.Start(memory: budget.OpenConnection(NewPeer()));
        try
        {
            await greedy.AnswerFirstPingAsync(Ct);
            int refused = await CountRefusalsAsync(greedy, pushed);

            MemoryBudgetSnapshot capped = budget.Snapshot();
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"kept {pushed - refused} streams, {greedy.Session.BufferedReceiveBytes} unread bytes, budget {capped}");
            Assert.Equal(pushed - expectedKept, refused);
            Assert.Equal(budget.ConnectionShareBytes, capped.InUseBytes);
            Assert.Equal(pushed - expectedKept, capped.RefusedByConnectionShare);
            Assert.Equal((long)expectedKept * Window, greedy.Session.BufferedReceiveBytes);

            // Another connection is served while the first is capped.
            await using (RawPeer honest = RawPeer.Start(memory: budget.OpenConnection(NewPeer())))
            {
                await honest.SendAsync(YamuxFrameType.Data, YamuxFlags.Syn, 2, 5, "hello"u8.ToArray(), Ct);
                YamuxStream? stream = await honest.Session.AcceptStreamAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
                Assert.NotNull(stream);
                System.IO.Pipelines.ReadResult read = await stream.Input.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
                Assert.Equal("hello"u8.ToArray(), read.Buffer.ToArray());
                Assert.Equal(2, budget.Snapshot().Connections);
            }
        }
        finally
        {
            await greedy.DisposeAsync();
        }

        MemoryBudgetSnapshot released = budget.Snapshot();
        Assert.Equal(0, released.InUseBytes);
        Assert.Equal(0, released.Connections);
        Assert.Equal(0, released.Peers);
    }

    [Fact]
    public async Task NeverReadingConnection_DefaultBudget_CappedAtSessionBuffer()
    {
        // Measures the per-connection cap with the defaults: 128 MiB budget, a quarter per connection,
        // 1 MiB floor, and yamux's own 32 MiB per connection, which binds first.
        MemoryBudget budget = new();
        YamuxOptions options = new();
        int pushed = (int)(options.MaxSessionReceiveBuffer / Window) + 4;
        await using RawPeer greedy = RawPeer.Start(options, memory: budget.OpenConnection(NewPeer()));
        await greedy.AnswerFirstPingAsync(Ct);

        int refused = await CountRefusalsAsync(greedy, pushed);

        MemoryBudgetSnapshot snapshot = budget.Snapshot();
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"kept {pushed - refused} streams, {greedy.Session.BufferedReceiveBytes} unread bytes, budget {snapshot}");
        Assert.Equal(4, refused);
        Assert.Equal(options.MaxSessionReceiveBuffer, greedy.Session.BufferedReceiveBytes);
        Assert.Equal(options.MaxSessionReceiveBuffer - budget.ConnectionFloorBytes, snapshot.InUseBytes);
    }

    [Fact]
    public async Task ManyNeverReadingConnections_BufferedAtMostBudgetPlusFloors_ReleasedWhenTheyGo()
    {
        // The issue's attack scaled down: connections pushing unread data into many streams each. A
        // 16 MiB budget (4 MiB a connection, 1 MiB floor): four connections use it up, the rest keep
        // only their floor, and what is buffered stays within the budget plus one floor per connection.
        const long MiB = 1024 * 1024;
        MemoryBudget budget = new(limitBytes: 16 * MiB);
        const int connections = 6;
        const int pushed = 24;
        List<RawPeer> peers = [];
        try
        {
            List<int> kept = [];
            for (int i = 0; i < connections; i++)
            {
                RawPeer peer = RawPeer.Start(memory: budget.OpenConnection(NewPeer()));
                peers.Add(peer);
                await peer.AnswerFirstPingAsync(Ct);
                kept.Add(pushed - await CountRefusalsAsync(peer, pushed));
            }
            long buffered = peers.Sum(p => p.Session.BufferedReceiveBytes);
            MemoryBudgetSnapshot snapshot = budget.Snapshot();
            TestContext.Current.TestOutputHelper?.WriteLine($"streams kept per connection: {string.Join(", ", kept)}; buffered {buffered}; {snapshot}");

            Assert.Equal([20, 20, 20, 20, 4, 4], kept);
            Assert.Equal(budget.LimitBytes, snapshot.InUseBytes);
            Assert.True(buffered <= budget.LimitBytes + (connections * budget.ConnectionFloorBytes), $"buffered {buffered}");
            Assert.Equal(2 * (pushed - 4), snapshot.RefusedByLimit);
            Assert.Equal(4 * (pushed - 20), snapshot.RefusedByConnectionShare);
        }
        finally
        {
            foreach (RawPeer peer in peers)
                await peer.DisposeAsync();
        }
        Assert.Equal(new MemoryBudgetSnapshot(0, budget.LimitBytes, budget.ConnectionShareBytes, budget.PeerShareBytes, 0, 0,
            budget.Snapshot().RefusedByLimit, 0, budget.Snapshot().RefusedByConnectionShare), budget.Snapshot());
    }

    /// <summary>
    /// Opens <paramref name="count"/> streams from the raw peer, each filled with a whole window that the
    /// session's side never reads; returns how many the session refused with RST.
    /// </summary>
    private static async Task<int> CountRefusalsAsync(RawPeer peer, int count)
    {
        byte[] payload = new byte[Window];
        for (int i = 0; i < count; i++)
        {
            uint id = 2 + (2 * (uint)i);   // the session is the client: the peer opens even ids
            await peer.SendAsync(YamuxFrameType.Data, YamuxFlags.Syn, id, Window, payload, Ct);
        }
        List<YamuxHeader> before = [];
        uint sync = 0x7e000001;
        await peer.SendAsync(YamuxFrameType.Ping, YamuxFlags.Syn, 0, sync, null, Ct);
        // The session handles frames in order and has one writer: every refusal precedes this answer.
        await peer.ReadUntilAsync(h => h is { Type: YamuxFrameType.Ping, Flags: YamuxFlags.Ack } && h.Length == sync, Ct, before);
        return before.Count(h => h.Type == YamuxFrameType.WindowUpdate && (h.Flags & YamuxFlags.Rst) != 0);
    }
}
