using Echo.Net.Identity;
using Echo.Net.Kad;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Kad;

/// <summary>The k-buckets: placement by shared prefix, the bound per bucket, stale eviction and ordering by distance.</summary>
public class KadRoutingTableTests
{
    private static readonly IReadOnlyList<Multiaddr> NoAddresses = [];

    [Fact]
    public void CommonPrefixLength_AndRandomWithPrefix_Agree()
    {
        KadKey self = KadKey.Of(KeyPair.Generate().PeerId.Bytes);
        foreach (int prefix in new[] { 0, 1, 7, 8, 63, 64, 200, 255 })
            Assert.Equal(prefix, self.CommonPrefixLength(self.RandomWithPrefix(prefix)));
        Assert.Equal(256, self.CommonPrefixLength(self));
    }

    [Fact]
    public void FullBucket_RefusesANewcomer_UnlessAPeerIsStale()
    {
        PeerId self = KeyPair.Generate().PeerId;
        KadRoutingTable table = new(self, bucketSize: 3, new FakeTimeProvider());
        KadKey selfKey = KadKey.Of(self.Bytes);
        // Bucket 0 holds half the key space: random peers land there half the time.
        List<PeerId> bucket0 = [.. Enumerable.Range(0, 200).Select(_ => KeyPair.Generate().PeerId)
            .Where(p => selfKey.CommonPrefixLength(KadKey.Of(p.Bytes)) == 0).Take(5)];
        Assert.Equal(5, bucket0.Count);

        for (int i = 0; i < 3; i++)
            Assert.True(table.AddOrSeen(bucket0[i], NoAddresses, _ => false));
        Assert.False(table.AddOrSeen(bucket0[3], NoAddresses, _ => false));
        Assert.Equal(3, table.Count);

        // Seen again: moves to the end; the least recently seen stale peer makes room.
        Assert.True(table.AddOrSeen(bucket0[0], NoAddresses, _ => false));
        Assert.True(table.AddOrSeen(bucket0[4], NoAddresses, _ => true));
        Assert.False(table.Contains(bucket0[1]));
        Assert.True(table.Contains(bucket0[0]));
        Assert.True(table.Contains(bucket0[4]));
        Assert.Equal([0], table.NonEmptyBuckets());
    }

    [Fact]
    public void Closest_OrdersByXorDistance_AndExcludes()
    {
        PeerId self = KeyPair.Generate().PeerId;
        KadRoutingTable table = new(self, bucketSize: 20, new FakeTimeProvider());
        List<PeerId> peers = [.. Enumerable.Range(0, 60).Select(_ => KeyPair.Generate().PeerId)];
        foreach (PeerId peer in peers)
            table.AddOrSeen(peer, NoAddresses, _ => false);
        Assert.False(table.AddOrSeen(self, NoAddresses, _ => true));

        KadKey target = KadKey.Of("some key"u8);
        List<KadPeer> closest = table.Closest(target, 5, exclude: peers[0]);
        Assert.Equal(5, closest.Count);
        List<PeerId> expected = [.. table.Snapshot().Select(p => p.Id).Where(p => p != peers[0])
            .Order(Comparer<PeerId>.Create((l, r) => target.CompareDistance(KadKey.Of(l.Bytes), KadKey.Of(r.Bytes)))).Take(5)];
        Assert.Equal(expected, closest.Select(p => p.Id));
    }
}
