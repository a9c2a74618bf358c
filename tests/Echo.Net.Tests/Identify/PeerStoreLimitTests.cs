using Echo.Net.Identify;
using Echo.Net.Identity;

namespace Echo.Net.Tests.Identify;

/// <summary>L-peer-store: the host's peer store remembers at most 1024 peers, however many identify.</summary>
public sealed class PeerStoreLimitTests
{
    [Fact]
    public void Put_BeyondMaxPeersConnected_IsRefused_AndADepartedPeerMakesRoom()
    {
        Assert.Equal(1024, PeerStore.MaxPeers);
        PeerStore store = new();
        List<PeerId> peers = [.. Enumerable.Range(0, PeerStore.MaxPeers + 1).Select(PeerOf)];
        foreach (PeerId peer in peers.Take(PeerStore.MaxPeers))
            store.Put(Connected(peer));
        Assert.Equal(PeerStore.MaxPeers, store.Count);

        // Every stored peer is still connected (has protocols): the newcomer is not stored.
        PeerId newcomer = peers[PeerStore.MaxPeers];
        store.Put(Connected(newcomer));
        Assert.Equal(PeerStore.MaxPeers, store.Count);
        Assert.Null(store.Get(newcomer));

        // An update of a stored peer is still taken at the limit.
        store.Put(Connected(peers[0]) with { AgentVersion = "updated" });
        Assert.Equal("updated", store.Get(peers[0])!.AgentVersion);

        // Once one peer departed, the newcomer takes its place and the count stays at the limit.
        store.OnDisconnected(peers[5]);
        store.Put(Connected(newcomer));
        Assert.Equal(PeerStore.MaxPeers, store.Count);
        Assert.NotNull(store.Get(newcomer));
        Assert.Null(store.Get(peers[5]));
    }

    private static PeerId PeerOf(int index)
    {
        byte[] seed = new byte[32];
        BitConverter.TryWriteBytes(seed, index + 1);
        using KeyPair key = KeyPair.FromSeed(seed);
        return key.PeerId;
    }

    private static IdentifyInfo Connected(PeerId peer) =>
        new(peer, "ipfs/0.1.0", "test", [], ["/ipfs/id/1.0.0"], null);
}
