using Echo.Core.Direct;
using Echo.Core.Ports;
using Echo.Net.Identity;
using Echo.Protocols.Peers;

namespace Echo.Protocols.Tests.Network;

/// <summary>L-connmgr: peers we chose to talk to are protected from trimming; a peer that talks to us is not.</summary>
public sealed class ConnectionProtectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task DirectMessage_ProtectsTheRecipientAtTheSender_NotTheSenderAtTheRecipient()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);

        Task sending = b.SendDirectAsync(a.LocalPeerId, new DirectEnvelope(DirectIds.New(), "bob", DateTimeOffset.UtcNow, "hi", null), Ct);
        (await a.Events.NextAsync<DirectArrived>()).Receipt!.Stored();
        await sending.WaitAsync(TestNetworks.Wait, Ct);

        Assert.True(b.Host.Resources.ConnectionManager.IsProtected(PeerId.Parse(a.LocalPeerId), Libp2pChatNetwork.DirectTag));
        Assert.False(a.Host.Resources.ConnectionManager.IsProtected(PeerId.Parse(b.LocalPeerId)));
    }

    [Fact(Timeout = 30_000)]
    public async Task FileFetch_ProtectsTheSenderAtTheFetcher_NotTheFetcherAtTheSender()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);

        // a offers nothing: the fetch is refused, but b chose a, and a did not choose b.
        await Assert.ThrowsAnyAsync<Exception>(() => b.OpenFileAsync(a.LocalPeerId, DirectIds.New(), 0, Ct).WaitAsync(TestNetworks.Wait, Ct));

        Assert.True(b.Host.Resources.ConnectionManager.IsProtected(PeerId.Parse(a.LocalPeerId), Libp2pChatNetwork.TransferTag));
        Assert.False(a.Host.Resources.ConnectionManager.IsProtected(PeerId.Parse(b.LocalPeerId)));
    }

    [Fact(Timeout = 30_000)]
    public async Task RoomMeshPeer_IsProtectedWhileInOurMesh_AndNoLongerAfterItLeavesTheRoom()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await a.JoinRoomAsync("lobby", Ct);
        await b.JoinRoomAsync("lobby", Ct);
        await b.ConnectAsync(a.ListenAddresses[0], Ct);
        PeerId bId = b.Id();

        await TestHosts.WaitUntilAsync(() => a.RefreshMeshProtection() == 1, "b in a's mesh of the room", TestNetworks.Wait);
        Assert.True(a.Host.Resources.ConnectionManager.IsProtected(bId, Libp2pChatNetwork.MeshTag));

        await b.LeaveRoomAsync("lobby", Ct);
        await TestHosts.WaitUntilAsync(() => a.RefreshMeshProtection() == 0, "b out of a's mesh", TestNetworks.Wait);
        Assert.False(a.Host.Resources.ConnectionManager.IsProtected(bId));
    }

    [Fact(Timeout = 30_000)]
    public async Task RememberedPeer_OurDialReached_IsProtected_AnInboundStrangerInTheBookIsNot()
    {
        ChatNetworkOptions remembering = TestNetworks.Options with { RememberPeers = new RememberedPeersOptions() };
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync(remembering);
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork stranger = await TestNetworks.StartAsync();
        await a.ConnectAsync(b.ListenAddresses[0], Ct);
        await stranger.ConnectAsync(a.ListenAddresses[0], Ct);
        await TestHosts.WaitUntilAsync(() => a.Host.Resources.ConnectionManager.IsProtected(b.Id(), Libp2pChatNetwork.RememberedTag)
                                             && a.Book!.Contains(stranger.Id()), "b protected and the stranger in a's peer book",
            TestNetworks.Wait);

        Assert.False(a.Host.Resources.ConnectionManager.IsProtected(stranger.Id()));

        Assert.True(await a.ForgetAsync(b.LocalPeerId, Ct));
        Assert.False(a.Host.Resources.ConnectionManager.IsProtected(b.Id()));
    }
}
