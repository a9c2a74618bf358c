using Echo.Net.Identity;
using Echo.Net.ResourceManager;
using Echo.Net.Yamux;

namespace Echo.Net.Tests.ResourceManager;

/// <summary>The process-wide memory budget alone: shares, the limit, refusal counters, release.</summary>
public class MemoryBudgetTests
{
    private const long KiB = 1024;
    private const long MiB = 1024 * KiB;

    private static PeerId NewPeer()
    {
        using KeyPair key = KeyPair.Generate();
        return key.PeerId;
    }

    [Fact]
    public void Defaults_128MiBWithQuarterShares()
    {
        MemoryBudget budget = new();
        Assert.Equal(128 * MiB, budget.LimitBytes);
        Assert.Equal(32 * MiB, budget.ConnectionShareBytes);
        Assert.Equal(32 * MiB, budget.PeerShareBytes);
        Assert.Equal(1 * MiB, budget.ConnectionFloorBytes);
        Assert.Equal(new MemoryBudgetSnapshot(0, 128 * MiB, 32 * MiB, 32 * MiB, 0, 0, 0, 0, 0), budget.Snapshot());
    }

    [Fact]
    public void ConnectionShare_Exhausted_RefusesThatConnectionOnly()
    {
        MemoryBudget budget = new(limitBytes: 10 * MiB, connectionShareBytes: 2 * MiB, peerShareBytes: 10 * MiB, connectionFloorBytes: 0);
        using MemoryBudgetScope greedy = budget.OpenConnection(NewPeer());
        using MemoryBudgetScope other = budget.OpenConnection(NewPeer());

        Assert.True(greedy.TryReserve(2 * MiB));
        Assert.False(greedy.TryReserve(1));
        Assert.True(other.TryReserve(2 * MiB));

        MemoryBudgetSnapshot snapshot = budget.Snapshot();
        Assert.Equal(4 * MiB, snapshot.InUseBytes);
        Assert.Equal(1, snapshot.RefusedByConnectionShare);
        Assert.Equal(1, snapshot.Refusals);
        Assert.Equal(2, snapshot.Connections);
        Assert.Equal(2, snapshot.Peers);
    }

    [Fact]
    public void PeerShare_CoversAllConnectionsOfOnePeer()
    {
        MemoryBudget budget = new(limitBytes: 10 * MiB, connectionShareBytes: 2 * MiB, peerShareBytes: 3 * MiB, connectionFloorBytes: 0);
        PeerId peer = NewPeer();
        using MemoryBudgetScope first = budget.OpenConnection(peer);
        using MemoryBudgetScope second = budget.OpenConnection(peer);

        Assert.True(first.TryReserve(2 * MiB));
        Assert.True(second.TryReserve(1 * MiB));
        Assert.False(second.TryReserve(1));   // its connection share has room, the peer's has not
        Assert.Equal(1, budget.Snapshot().RefusedByPeerShare);
        Assert.Equal(1, budget.Snapshot().Peers);

        first.Release(512 * KiB);
        Assert.True(second.TryReserve(512 * KiB));
    }

    [Fact]
    public void Limit_Exhausted_RefusesEveryoneUntilReleased()
    {
        MemoryBudget budget = new(limitBytes: 3 * MiB, connectionShareBytes: 2 * MiB, peerShareBytes: 2 * MiB, connectionFloorBytes: 0);
        using MemoryBudgetScope a = budget.OpenConnection(NewPeer());
        using MemoryBudgetScope b = budget.OpenConnection(NewPeer());
        Assert.True(a.TryReserve(2 * MiB));
        Assert.True(b.TryReserve(1 * MiB));
        Assert.False(b.TryReserve(1));
        Assert.Equal(1, budget.Snapshot().RefusedByLimit);

        a.Release(1 * MiB);
        Assert.True(b.TryReserve(1 * MiB));
        Assert.Equal(3 * MiB, budget.Snapshot().InUseBytes);
    }

    [Fact]
    public void Dispose_ReturnsEverythingAndRefusesLaterReservations()
    {
        MemoryBudget budget = new(limitBytes: 4 * MiB);
        PeerId peer = NewPeer();
        MemoryBudgetScope scope = budget.OpenConnection(peer);
        Assert.True(scope.TryReserve(1 * MiB));
        Assert.Equal(1 * MiB, scope.InUseBytes);

        scope.Dispose();
        scope.Release(1 * MiB);   // late release after close: ignored, no negative count
        Assert.False(scope.TryReserve(1));
        scope.Dispose();          // twice is fine
        Assert.Equal(new MemoryBudgetSnapshot(0, 4 * MiB, 1 * MiB, 1 * MiB, 0, 0, 0, 0, 0), budget.Snapshot());
    }

    [Fact]
    public void YamuxReceiveBudget_ChargesOnlyWhatPassesTheFloor()
    {
        const long window = YamuxOptions.InitialWindow;
        MemoryBudget budget = new(limitBytes: 64 * MiB, connectionShareBytes: 3 * window, peerShareBytes: 64 * MiB, connectionFloorBytes: 2 * window);
        YamuxReceiveBudget connection = new(32 * MiB, budget.OpenConnection(NewPeer()));

        Assert.True(connection.TryReserveStream());
        Assert.True(connection.TryReserveStream());
        Assert.Equal(0, budget.Snapshot().InUseBytes);          // within the floor
        Assert.True(connection.TryReserveStream());
        Assert.True(connection.TryGrow(2 * window));
        Assert.Equal(3 * window, budget.Snapshot().InUseBytes);
        Assert.False(connection.TryReserveStream());           // the connection's share is used up
        Assert.False(connection.TryGrow(1));
        Assert.Equal(5 * window, connection.Reserved);

        connection.Release(3 * (uint)window);                   // the grown stream goes
        Assert.Equal(0, budget.Snapshot().InUseBytes);          // back within the floor
        Assert.True(connection.TryReserveStream());
        Assert.Equal(1 * window, budget.Snapshot().InUseBytes);

        connection.Close();
        Assert.Equal(0, budget.Snapshot().InUseBytes);
        Assert.Equal(0, budget.Snapshot().Connections);
        Assert.False(connection.TryReserveStream());
    }
}
