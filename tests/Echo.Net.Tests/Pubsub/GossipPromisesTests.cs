using Echo.Net.Identity;
using Echo.Net.Pubsub;

namespace Echo.Net.Tests.Pubsub;

/// <summary>IWANT promises without a router: kept by any delivery, broken once each when due.</summary>
public class GossipPromisesTests
{
    private static readonly PeerId A = KeyPair.Generate().PeerId;
    private static readonly PeerId B = KeyPair.Generate().PeerId;
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly MessageId M1 = new([1]);
    private static readonly MessageId M2 = new([2]);

    [Fact]
    public void TakeBroken_ReturnsEachDuePromiseOnce_AndKeepsTheRest()
    {
        GossipPromises promises = new();
        promises.Add(M1, A, Now + TimeSpan.FromSeconds(3));
        promises.Add(M2, A, Now + TimeSpan.FromSeconds(3));
        promises.Add(M1, B, Now + TimeSpan.FromSeconds(5));
        Assert.Equal(3, promises.Count);
        Assert.Null(promises.TakeBroken(Now + TimeSpan.FromSeconds(2)));
        List<PeerId>? broken = promises.TakeBroken(Now + TimeSpan.FromSeconds(3));
        Assert.NotNull(broken);
        Assert.Equal([A, A], broken);                                // two promises, two penalties
        Assert.Equal(1, promises.Count);
        Assert.Null(promises.TakeBroken(Now + TimeSpan.FromSeconds(4)));
        Assert.Equal([B], promises.TakeBroken(Now + TimeSpan.FromSeconds(5)));
        Assert.Equal(0, promises.Count);
    }

    [Fact]
    public void Delivered_KeepsEveryPromiseOfThatMessage()
    {
        GossipPromises promises = new();
        promises.Add(M1, A, Now);
        promises.Add(M1, B, Now);
        promises.Add(M2, A, Now);
        promises.Delivered(new MessageId([1]));                      // equal bytes, another instance
        Assert.Equal(1, promises.Count);
        Assert.Equal([A], promises.TakeBroken(Now));
    }

    [Fact]
    public void Add_APeersFirstPromiseOfAnIdStands()
    {
        GossipPromises promises = new();
        promises.Add(M1, A, Now + TimeSpan.FromSeconds(3));
        promises.Add(M1, A, Now + TimeSpan.FromSeconds(60));         // asked again: not a later deadline
        Assert.Equal(1, promises.Count);
        Assert.Equal([A], promises.TakeBroken(Now + TimeSpan.FromSeconds(3)));
    }
}
