using Echo.Net.Identity;
using Echo.Net.Kad;
using Echo.Net.Multiformats;
using Echo.Net.ResourceManager;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Kad;

/// <summary>
/// Provider records: validity (48 h by default) and the per-peer, per-key and total bounds, held in
/// the host's resource manager (<see cref="ProviderRecordScope"/>): what is held, what was refused by
/// which limit, and everything given back when records expire.
/// </summary>
public class KadProviderStoreTests
{
    private static readonly IReadOnlyList<Multiaddr> Addr = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001")];

    private static byte[] Key(int i) => KadDht.Sha256Multihash(BitConverter.GetBytes(i));

    private static HostResources Resources(ResourceLimits? limits = null) => new(100, 100, limits ?? new ResourceLimits());

    private static long Refused(HostResources resources, LimitKind kind) => resources.Snapshot(0).Refused[kind];

    [Fact]
    public void Record_ExpiresAfterTheValidity_RefreshExtendsIt()
    {
        FakeTimeProvider time = new();
        HostResources resources = Resources();
        KadProviderStore store = new(resources.ProviderRecords, new KadOptions(), time);
        PeerId a = KeyPair.Generate().PeerId, b = KeyPair.Generate().PeerId;
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(1), a, Addr));
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(1), b, Addr));
        Assert.Equal(2, resources.Snapshot(0).ProviderRecords);

        time.Advance(TimeSpan.FromHours(47));
        Assert.Equal(ProviderAddResult.Refreshed, store.Add(Key(1), b, Addr));
        Assert.Equal(2, store.Get(Key(1)).Count);

        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal([b], store.Get(Key(1)).Select(p => p.Id));
        Assert.Equal(1, store.Count);
        Assert.Equal(1, resources.ProviderRecords.Held);
        Assert.Equal(0, resources.ProviderRecords.HeldFor(a));

        time.Advance(TimeSpan.FromHours(47));
        store.Sweep();
        Assert.Equal(0, store.Count);
        Assert.Empty(store.Get(Key(1)));
        Assert.Equal(0, resources.ProviderRecords.Held);
    }

    [Fact]
    public void PerPeerLimit_RefusesThePeersNextKey_OthersStillStore()
    {
        HostResources resources = Resources(new ResourceLimits { MaxProviderRecordsPerPeer = 3 });
        KadProviderStore store = new(resources.ProviderRecords, new KadOptions(), new FakeTimeProvider());
        PeerId greedy = KeyPair.Generate().PeerId;
        for (int i = 0; i < 3; i++)
            Assert.Equal(ProviderAddResult.Stored, store.Add(Key(i), greedy, Addr));
        Assert.Equal(ProviderAddResult.RefusedPeerLimit, store.Add(Key(3), greedy, Addr));
        Assert.Equal(ProviderAddResult.Refreshed, store.Add(Key(0), greedy, Addr));
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(3), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(1, Refused(resources, LimitKind.ProviderRecordsPerPeer));
        Assert.Equal(4, resources.ProviderRecords.Held);
    }

    [Fact]
    public void TotalAndPerKeyLimits_Refuse_UntilRecordsExpire()
    {
        FakeTimeProvider time = new();
        HostResources resources = Resources(new ResourceLimits { MaxProviderRecords = 4, MaxProvidersPerKey = 2 });
        KadProviderStore store = new(resources.ProviderRecords, new KadOptions(), time);
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(0), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(0), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(ProviderAddResult.RefusedKeyFull, store.Add(Key(0), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(1), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(2), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(ProviderAddResult.RefusedTotalLimit, store.Add(Key(3), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(1, Refused(resources, LimitKind.ProvidersPerKey));
        Assert.Equal(1, Refused(resources, LimitKind.ProviderRecords));
        Assert.Equal(4, resources.Snapshot(0).ProviderRecords);

        time.Advance(TimeSpan.FromHours(48));
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(3), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(1, store.Count);
        Assert.Equal(1, resources.ProviderRecords.Held);
    }

    /// <summary>L-kad-providers with the defaults: 256 records per provider, 64 providers per key, 20,000 in all; one more of each is refused.</summary>
    [Fact]
    public void DefaultLimits_256PerProvider_64PerKey_20000InAll_TheNextOfEachIsRefused()
    {
        HostResources resources = Resources();
        KadProviderStore store = new(resources.ProviderRecords, new KadOptions(), new FakeTimeProvider());

        PeerId greedy = KeyPair.Generate().PeerId;
        for (int i = 0; i < 256; i++)
            Assert.Equal(ProviderAddResult.Stored, store.Add(Key(i), greedy, Addr));
        Assert.Equal(ProviderAddResult.RefusedPeerLimit, store.Add(Key(256), greedy, Addr));

        byte[] popular = Key(-1);
        for (int i = 0; i < 64; i++)
            Assert.Equal(ProviderAddResult.Stored, store.Add(popular, KeyPair.Generate().PeerId, Addr));
        Assert.Equal(ProviderAddResult.RefusedKeyFull, store.Add(popular, KeyPair.Generate().PeerId, Addr));

        // Fill to 20,000 with providers of 250 records each (under their own bound).
        int held = 256 + 64, next = 1_000;
        while (held < 20_000)
        {
            PeerId provider = KeyPair.Generate().PeerId;
            for (int i = 0; i < 250 && held < 20_000; i++, held++)
                Assert.Equal(ProviderAddResult.Stored, store.Add(Key(next++), provider, Addr));
        }
        Assert.Equal(20_000, resources.ProviderRecords.Held);
        Assert.Equal(ProviderAddResult.RefusedTotalLimit, store.Add(Key(next), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(1, Refused(resources, LimitKind.ProviderRecords));
        Assert.Equal(1, Refused(resources, LimitKind.ProviderRecordsPerPeer));
        Assert.Equal(1, Refused(resources, LimitKind.ProvidersPerKey));
    }
}
