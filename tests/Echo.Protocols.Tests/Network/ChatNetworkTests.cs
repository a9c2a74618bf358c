using System.Net;
using System.Net.Sockets;
using System.Text;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Multiformats;
using Echo.Net.Pubsub;
using Echo.Protocols.Rooms;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Protocols.Tests.Network;

/// <summary>Real adapters on 127.0.0.1, each under a ChatManager, talking gossipsub.</summary>
public sealed class ChatNetworkTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task TwoNodes_AMessageInTheLobby_ReachesTheOther_WithNickIdAndTime()
    {
        await using ChatNode alice = await ChatNode.StartAsync("alice");
        await using ChatNode bob = await ChatNode.StartAsync("bob");
        await bob.Chat.ConnectAsync(alice.Address, Ct);
        Assert.Equal(PeerSource.Manual, (await bob.EventAsync<PeerConnectedEvent>()).Peer.Source);
        PeerInfo atAlice = (await alice.EventAsync<PeerConnectedEvent>()).Peer;
        Assert.Equal(PeerSource.Inbound, atAlice.Source);
        Assert.Equal(bob.Id.ToString(), atAlice.PeerId);
        Assert.EndsWith("/p2p/" + bob.Id, atAlice.Address);
        await TestNetworks.InTopicAsync(alice.Network, bob.Network);

        DateTimeOffset before = DateTimeOffset.UtcNow.AddSeconds(-1);
        await alice.Chat.SendAsync("hello bob", Ct);
        ChatMessage sent = await alice.MessageAsync("hello bob");
        ChatMessage received = await bob.MessageAsync("hello bob");
        Assert.Equal(MessageOrigin.Local, sent.Origin);
        Assert.Equal(MessageOrigin.Room, received.Origin);
        Assert.Equal(sent.Id, received.Id);
        Assert.StartsWith(alice.Id + ":", received.Id);
        Assert.Equal((alice.Id.ToString(), "alice", "lobby"), (received.SenderId, received.SenderNick, received.Room));
        Assert.Equal(sent.Timestamp, received.Timestamp);
        Assert.InRange(received.Timestamp, before, DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal("alice", bob.Chat.NickOf(alice.Id.ToString()));

        await bob.Chat.SendAsync("hi alice", Ct);
        Assert.Equal("bob", (await alice.MessageAsync("hi alice")).SenderNick);
        Assert.Single(bob.Messages, m => m.Text == "hello bob");
    }

    [Fact(Timeout = 60_000)]
    public async Task ThreeNodes_RoomsAreKeptApart()
    {
        await using ChatNode a = await ChatNode.StartAsync("a");
        await using ChatNode b = await ChatNode.StartAsync("b");
        await using ChatNode c = await ChatNode.StartAsync("c");
        await b.Chat.ConnectAsync(a.Address, Ct);
        await c.Chat.ConnectAsync(a.Address, Ct);
        await c.Chat.ConnectAsync(b.Address, Ct);
        await a.Chat.JoinAsync("dev", Ct);
        await c.Chat.JoinAsync("dev", Ct);
        await TestNetworks.InTopicAsync(a.Network, c.Network, "dev");
        await TestNetworks.InTopicAsync(a.Network, b.Network);
        await TestNetworks.InTopicAsync(b.Network, c.Network);

        await a.Chat.SendAsync("only for dev", Ct);                 // a's current room is dev now
        Assert.Equal("dev", (await c.MessageAsync("only for dev")).Room);
        a.Chat.SwitchRoom("lobby");
        await a.Chat.SendAsync("for the lobby", Ct);
        Assert.Equal("lobby", (await b.MessageAsync("for the lobby")).Room);
        Assert.Equal("lobby", (await c.MessageAsync("for the lobby")).Room);
        // b never joined dev: the dev message reached neither its views nor its network events.
        Assert.DoesNotContain(b.Messages, m => m.Text == "only for dev");
        Assert.Empty(b.Chat.RecentMessages("dev"));
        Assert.DoesNotContain("chat-room:dev", b.Network.Router.MeshPeers("chat-room:dev").Select(p => p.ToString()));
    }

    /// <summary>
    /// A bare gossipsub node (no chat validator) publishes bad room messages to b, which sits between
    /// it and a. b rejects each (logged), so neither b shows it nor a ever receives it; a good message
    /// published afterwards by the same node crosses both, proving the path works and the bad ones
    /// were dropped, not just slow.
    /// </summary>
    [Theory(Timeout = 60_000)]
    [InlineData("forged", "SenderID is not the signed author")]
    [InlineData("not json", "not a JSON object")]
    [InlineData("no message", "no Message")]
    [InlineData("oversize", "the limit is 4096")]
    [InlineData("long nick", "SenderNick is 33 characters")]
    public async Task BadRoomMessages_AreRejected_NeverShown_NeverForwarded(string kind, string reason)
    {
        RecordingLoggerFactory bLogs = new();
        await using ChatNode a = await ChatNode.StartAsync("a");
        await using ChatNode b = await ChatNode.StartAsync("b", loggers: bLogs);
        await using Libp2pHost badHost = await TestHosts.StartAsync();
        await using PubsubRouter bad = new(badHost, TestNetworks.FastPubsub, NullLoggerFactory.Instance);
        await bad.StartAsync(Ct);
        await using PubsubSubscription badSub = bad.Subscribe(RoomTopic.ForRoom("lobby"));
        await a.Chat.ConnectAsync(b.Address, Ct);
        await badHost.DialAsync(Multiaddr.Parse(b.Address), Ct);
        // b relays to its mesh only, so a must be in it before anything is relayed.
        await TestNetworks.InMeshAsync(a.Network, b.Network);
        await TestHosts.WaitUntilAsync(() => bad.TopicPeers("chat-room:lobby").Contains(b.Id)
            && b.Network.Router.TopicPeers("chat-room:lobby").Contains(badHost.PeerId), "the bad node and b share the lobby", TestNetworks.Wait);
        Assert.DoesNotContain(badHost.PeerId, a.Network.Router.TopicPeers("chat-room:lobby"));

        string badId = badHost.PeerId.ToString();
        byte[] payload = kind switch
        {
            "forged" => RoomMessageCodec.Encode("forged text", a.Id.ToString(), "a", DateTimeOffset.UtcNow),
            "not json" => "forged text, not json"u8.ToArray(),
            "no message" => Encoding.UTF8.GetBytes($$"""{"Text":"forged text","SenderID":"{{badId}}"}"""),
            "oversize" => RoomMessageCodec.Encode("forged text" + new string('x', ChatLimits.MaxTextBytes), badId, "x", DateTimeOffset.UtcNow),
            "long nick" => RoomMessageCodec.Encode("forged text", badId, new string('n', 33), DateTimeOffset.UtcNow),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        await bad.PublishAsync("chat-room:lobby", payload, Ct);
        RecordingLoggerFactory.Entry rejected = await bLogs.WaitForAsync(e => e.EventId == 3100, TestNetworks.Wait);
        Assert.Contains(reason, rejected.Message);
        Assert.Equal(badHost.PeerId, rejected["Author"]);

        await bad.PublishAsync("chat-room:lobby", RoomMessageCodec.Encode("honest text", badId, "honest", DateTimeOffset.UtcNow), Ct);
        await b.MessageAsync("honest text");
        Assert.Equal(badId, (await a.MessageAsync("honest text")).SenderId);
        Assert.DoesNotContain(a.Messages, m => m.Text.StartsWith("forged", StringComparison.Ordinal));
        Assert.DoesNotContain(b.Messages, m => m.Text.StartsWith("forged", StringComparison.Ordinal));
        Assert.Equal(1, bLogs.Count(e => e.EventId == 3100));
    }

    [Fact(Timeout = 30_000)]
    public async Task PublishingWithNoPeers_Succeeds()
    {
        await using ChatNode alone = await ChatNode.StartAsync("alone");
        await alone.Chat.SendAsync("anyone there?", Ct);
        Assert.Equal(MessageOrigin.Local, (await alone.MessageAsync("anyone there?")).Origin);
        ChatMessage direct = await alone.Network.PublishAsync("elsewhere", "alone", "into a room nobody joined", Ct);
        Assert.Equal("elsewhere", direct.Room);
    }

    [Fact(Timeout = 30_000)]
    public async Task Connect_ABadMultiaddr_NamesTheBadPart()
    {
        await using Libp2pChatNetwork network = await TestNetworks.StartAsync();
        ChatNetworkException e = await Assert.ThrowsAsync<ChatNetworkException>(
            () => network.ConnectAsync("/ip4/127.0.0.1/tcp/notaport", Ct));
        Assert.Contains("notaport", e.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task Connect_TheWrongPeerId_SaysExpectedAndGot()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork other = await TestNetworks.StartAsync();
        string wrong = b.Host.ListenAddresses[0].WithPeerId(other.Id()).ToString();
        ChatNetworkException e = await Assert.ThrowsAsync<ChatNetworkException>(() => a.ConnectAsync(wrong, Ct));
        Assert.Contains($"expected {other.Id()}, got {b.Id()}", e.Message);

        // Without /p2p/ whoever answers is accepted, and its id is returned.
        Assert.Equal(b.Id().ToString(), await a.ConnectAsync(b.Host.ListenAddresses[0].ToString(), Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task Start_OnAPortInUse_SaysSo()
    {
        using Socket taken = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        await using Libp2pChatNetwork network = new(TestNetworks.NewHost(listen: $"/ip4/127.0.0.1/tcp/{port}"), TestNetworks.Options,
            NullLoggerFactory.Instance);
        ChatNetworkException e = await Assert.ThrowsAsync<ChatNetworkException>(() => network.StartAsync(Ct));
        Assert.Contains($"port {port}", e.Message);
        Assert.Contains("already in use", e.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task Peers_JoinGetPingedAndLeave()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync(TestNetworks.Options with { PingInterval = TimeSpan.FromMilliseconds(200) });
        Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);
        PeerJoined joined = await a.Events.NextAsync<PeerJoined>();
        Assert.Equal((b.Id().ToString(), PeerSource.Inbound), (joined.Peer.PeerId, joined.Peer.Source));
        // Two round trips: the one on connecting and at least one periodic.
        for (int i = 0; i < 2; i++)
        {
            PeerChanged pinged = await a.Events.NextAsync<PeerChanged>(c => c.RoundTrip is not null);
            Assert.Equal(b.Id().ToString(), pinged.PeerId);
            Assert.InRange(pinged.RoundTrip!.Value, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        }
        await b.DisposeAsync();
        Assert.Equal(b.Id().ToString(), (await a.Events.NextAsync<PeerLeft>()).PeerId);
    }

    [Fact(Timeout = 30_000)]
    public async Task AFullEventQueue_DropsNothing_AndDoesNotBlockTheNetwork()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync(TestNetworks.Options with
        {
            EventCapacity = 16,
            PingInterval = TimeSpan.FromMilliseconds(20),
        });
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);
        // Nobody reads a's events: the pings (one source, one slot with this capacity) wait for room
        // instead of pushing the join out.
        await TestHosts.WaitUntilAsync(() => a.Events.Count == 2, "a's pings wait", TestNetworks.Wait);
        using PeriodicTimer tick = new(TimeSpan.FromMilliseconds(200));
        await tick.WaitForNextTickAsync(Ct);
        Assert.Equal(2, a.Events.Count);
        Assert.Equal(b.Id(), (await a.Host.DialAsync(Multiaddr.Parse(b.ListenAddresses[0]), Ct)).RemotePeer);
        Assert.True(a.Events.TryRead(out NetworkEvent? first));
        Assert.IsType<PeerJoined>(first);              // kept, and first
        Assert.IsType<PeerChanged>(await a.Events.NextAsync<NetworkEvent>());
        Assert.IsType<PeerChanged>(await a.Events.NextAsync<NetworkEvent>());   // the waiting ping got in once there was room
    }
}
