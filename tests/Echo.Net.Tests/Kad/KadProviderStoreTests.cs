using Echo.Net.Identity;
using Echo.Net.Kad;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Kad;

/// <summary>Provider records: validity (48 h by default) and the per-peer, per-key and total bounds.</summary>
public class KadProviderStoreTests
{
    private static readonly IReadOnlyList<Multiaddr> Addr = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001")];

    private static byte[] Key(int i) => KadDht.Sha256Multihash(BitConverter.GetBytes(i));

    [Fact]
    public void Record_ExpiresAfterTheValidity_RefreshExtendsIt()
    {
        FakeTimeProvider time = new();
        KadProviderStore store = new(new KadOptions(), time);
        PeerId a = KeyPair.Generate().PeerId, b = KeyPair.Generate().PeerId;
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(1), a, Addr));
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(1), b, Addr));

        time.Advance(TimeSpan.FromHours(47));
        Assert.Equal(ProviderAddResult.Refreshed, store.Add(Key(1), b, Addr));
        Assert.Equal(2, store.Get(Key(1)).Count);

        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal([b], store.Get(Key(1)).Select(p => p.Id));
        Assert.Equal(1, store.Count);

        time.Advance(TimeSpan.FromHours(47));
        store.Sweep();
        Assert.Equal(0, store.Count);
        Assert.Empty(store.Get(Key(1)));
    }

    [Fact]
    public void PerPeerLimit_RefusesThePeersNextKey_OthersStillStore()
    {
        KadProviderStore store = new(new KadOptions { MaxProviderRecordsPerPeer = 3 }, new FakeTimeProvider());
        PeerId greedy = KeyPair.Generate().PeerId;
        for (int i = 0; i < 3; i++)
            Assert.Equal(ProviderAddResult.Stored, store.Add(Key(i), greedy, Addr));
        Assert.Equal(ProviderAddResult.RefusedPeerLimit, store.Add(Key(3), greedy, Addr));
        Assert.Equal(ProviderAddResult.Refreshed, store.Add(Key(0), greedy, Addr));
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(3), KeyPair.Generate().PeerId, Addr));
    }

    [Fact]
    public void TotalAndPerKeyLimits_Refuse_UntilRecordsExpire()
    {
        FakeTimeProvider time = new();
        KadProviderStore store = new(new KadOptions { MaxProviderRecords = 4, MaxProvidersPerKey = 2 }, time);
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(0), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(0), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(ProviderAddResult.RefusedKeyFull, store.Add(Key(0), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(1), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(2), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(ProviderAddResult.RefusedTotalLimit, store.Add(Key(3), KeyPair.Generate().PeerId, Addr));

        time.Advance(TimeSpan.FromHours(48));
        Assert.Equal(ProviderAddResult.Stored, store.Add(Key(3), KeyPair.Generate().PeerId, Addr));
        Assert.Equal(1, store.Count);
    }
}
