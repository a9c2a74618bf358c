using Echo.Net.Identity;
using Echo.Net.ResourceManager;

namespace Echo.Net.Tests.ResourceManager;

/// <summary>L-streams-per-protocol: inbound streams per peer per protocol.</summary>
public sealed class StreamLimiterTests
{
    private static readonly PeerId Alice = KeyPair.Generate().PeerId;
    private static readonly PeerId Bob = KeyPair.Generate().PeerId;

    [Fact]
    public void PerPeerPerProtocol_AtTheLimitRefused_OtherPeersAndProtocolsNot()
    {
        StreamLimiter limiter = new();
        Assert.True(limiter.TryAcquire(Alice, "/echo/file/1.0.0", 2));
        Assert.True(limiter.TryAcquire(Alice, "/echo/file/1.0.0", 2));

        Assert.False(limiter.TryAcquire(Alice, "/echo/file/1.0.0", 2));
        Assert.True(limiter.TryAcquire(Bob, "/echo/file/1.0.0", 2));
        Assert.True(limiter.TryAcquire(Alice, "/echo/history/1.0.0", 2));
        Assert.Equal(4, limiter.Total);
    }

    [Fact]
    public void Release_FreesOneStream_AndTheEntryGoesWithTheLast()
    {
        StreamLimiter limiter = new();
        Assert.True(limiter.TryAcquire(Alice, "/p", 1));
        Assert.False(limiter.TryAcquire(Alice, "/p", 1));

        limiter.Release(Alice, "/p");
        Assert.True(limiter.TryAcquire(Alice, "/p", 1));
        limiter.Release(Alice, "/p");
        limiter.Release(Alice, "/p");                        // nothing left to release: ignored

        Assert.Equal(0, limiter.Total);
        Assert.Equal(0, limiter.Entries);
    }
}
