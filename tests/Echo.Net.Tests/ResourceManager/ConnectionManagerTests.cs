using Echo.Net.Identity;
using Echo.Net.ResourceManager;

namespace Echo.Net.Tests.ResourceManager;

/// <summary>L-connmgr: which connections the connection manager trims past the high watermark.</summary>
public sealed class ConnectionManagerTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static ConnectionManager Manager(int low = 2, int high = 4, TimeSpan? grace = null) =>
        new(new ResourceLimits { LowWatermark = low, HighWatermark = high, GracePeriod = grace ?? TimeSpan.FromMinutes(1) });

    private static TrimCandidate Old(int streams = 0, int minutesAgo = 10) =>
        new(KeyPair.Generate().PeerId, streams, Now.AddMinutes(-minutesAgo));

    [Fact]
    public void AtOrBelowTheHighWatermark_NothingTrimmed()
    {
        ConnectionManager manager = Manager();
        Assert.Empty(manager.SelectForTrim([Old(), Old(), Old(), Old()], Now));
    }

    [Fact]
    public void AboveTheHighWatermark_TrimsDownToTheLow_IdleFirst_NewestFirstAmongEquals()
    {
        ConnectionManager manager = Manager();
        TrimCandidate busy = Old(streams: 3);
        TrimCandidate idleOld = Old(minutesAgo: 30);
        TrimCandidate idleNew = Old(minutesAgo: 5);
        TrimCandidate oneStream = Old(streams: 1);
        TrimCandidate idleMiddle = Old(minutesAgo: 10);

        IReadOnlyList<PeerId> trimmed = manager.SelectForTrim([busy, idleOld, idleNew, oneStream, idleMiddle], Now);

        Assert.Equal([idleNew.Peer, idleMiddle.Peer, idleOld.Peer], trimmed);
    }

    [Fact]
    public void ProtectedPeersAndYoungConnections_NeverTrimmed()
    {
        ConnectionManager manager = Manager(low: 0, high: 1);
        TrimCandidate room = Old();
        TrimCandidate dm = Old();
        TrimCandidate young = new(KeyPair.Generate().PeerId, 0, Now.AddSeconds(-59));
        TrimCandidate stranger = Old(streams: 5);
        manager.Protect(room.Peer, "room:lobby");
        manager.Protect(dm.Peer, "dm");
        manager.Protect(dm.Peer, "transfer");

        Assert.Equal([stranger.Peer], manager.SelectForTrim([room, dm, young, stranger], Now));

        Assert.True(manager.Unprotect(dm.Peer, "dm"));       // still protected by the transfer
        Assert.False(manager.Unprotect(dm.Peer, "transfer"));
        Assert.False(manager.IsProtected(dm.Peer));
        Assert.True(manager.IsProtected(room.Peer, "room:lobby"));
        Assert.False(manager.IsProtected(room.Peer, "dm"));
        Assert.Equal([dm.Peer, stranger.Peer], manager.SelectForTrim([room, dm, young, stranger], Now));
    }
}
