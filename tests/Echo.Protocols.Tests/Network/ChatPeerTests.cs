using System.Net;
using Echo.Core.Ports;
using Echo.Net.AutoNat;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Protocols.Tests.Network;

/// <summary>
/// Only chat peers join the chat: a peer that dialed us joins once identify shows a chat protocol,
/// so an AutoNAT dial back (a fresh identity that only delivers a nonce) is never shown joining and leaving.
/// </summary>
public sealed class ChatPeerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task AnInboundPeerWithoutAChatProtocol_IsNotAnnounced_AChatPeerIs()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pHost bare = await TestHosts.StartAsync();
        Task identified = TestHosts.Identified(a.Host, bare.PeerId);
        await bare.DialAsync(Multiaddr.Parse(a.ListenAddresses[0]), Ct);
        await identified.WaitAsync(TestNetworks.Wait, Ct);

        Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);
        Assert.Equal(b.Id().ToString(), (await a.Events.NextAsync<PeerJoined>()).Peer.PeerId);

        Task bareLeft = TestHosts.NextDisconnected(a.Host, bare.PeerId);
        await bare.DisposeAsync();
        await bareLeft.WaitAsync(TestNetworks.Wait, Ct);
        await b.DisposeAsync();
        // The first departure the chat hears of is b's: the bare peer never joined, so never left.
        Assert.Equal(b.Id().ToString(), (await a.Events.NextAsync<PeerLeft>()).PeerId);
    }

    [Fact(Timeout = 60_000)]
    public async Task AnAutoNatDialBack_IsNotShownJoiningOrLeaving()
    {
        static bool Loopback(Multiaddr address) => address.TryGetTcpEndPoint(out IPEndPoint? e) && e is not null && IPAddress.IsLoopback(e.Address);
        await using Libp2pHost server = new(KeyPair.Generate(), new HostOptions
        {
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            EnableAutoNat = true,
            AutoNat = new AutoNatOptions { IsPublic = Loopback, ServerMode = AutoNatServerMode.On, Candidates = () => [] },
        }, NullLoggerFactory.Instance);
        await server.StartAsync(Ct);
        Libp2pHost host = new(KeyPair.Generate(), new HostOptions
        {
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            EnableAutoNat = true,
            AutoNat = new AutoNatOptions { IsPublic = Loopback, Threshold = 0 },
        }, NullLoggerFactory.Instance);
        await using Libp2pChatNetwork network = new(host, TestNetworks.Options, NullLoggerFactory.Instance);
        // Subscribed after the adapter: when this runs, the adapter has handled the dial back's end.
        TaskCompletionSource<PeerId> dialBackEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
        host.PeerDisconnected += c =>
        {
            if (c.RemotePeer != server.PeerId)
                dialBackEnded.TrySetResult(c.RemotePeer);
        };
        await network.StartAsync(Ct);

        await network.ConnectAsync(TestHosts.AddressOf(server).ToString(), Ct);
        PeerId dialer = await dialBackEnded.Task.WaitAsync(TestNetworks.Wait, Ct);
        List<NetworkEvent> seen = [];
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TestNetworks.Wait);
        while (!seen.Any(e => e is ReachabilityChanged { Status: NodeReachability.Public }))
            seen.Add(await network.Events.ReadAsync(deadline.Token));
        while (network.Events.TryRead(out NetworkEvent? networkEvent))
            seen.Add(networkEvent);

        Assert.Contains(seen, e => e is PeerJoined j && j.Peer.PeerId == server.PeerId.ToString());
        Assert.DoesNotContain(seen, e => e is PeerJoined j && j.Peer.PeerId == dialer.ToString());
        Assert.DoesNotContain(seen, e => e is PeerLeft l && l.PeerId == dialer.ToString());
        Assert.NotEqual(server.PeerId, dialer);
    }
}
