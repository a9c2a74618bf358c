using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols.Peers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Protocols.Tests.Peers;

/// <summary>Idempotent /connect and remembered peers, through the chat over real hosts on loopback.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class RememberedPeersTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly RedialOptions FastRedial = new() { InitialDelay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(1) };

    private readonly string _directory = Directory.CreateTempSubdirectory("echo-remembered-test-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static ChatNetworkOptions Remembering(string? file = null) =>
        TestNetworks.Options with { RememberPeers = new RememberedPeersOptions { File = file, Redial = FastRedial } };

    /// <summary>A started network with a given identity and listen address (so it can come back as the same peer at the same place).</summary>
    private static async Task<Libp2pChatNetwork> StartPeerAsync(KeyPair key, string listen = "/ip4/127.0.0.1/tcp/0")
    {
        Libp2pHost host = new(key, new HostOptions { ListenAddresses = [Multiaddr.Parse(listen)] }, NullLoggerFactory.Instance);
        Libp2pChatNetwork network = new(host, TestNetworks.Options, NullLoggerFactory.Instance);
        await network.StartAsync(Ct);
        return network;
    }

    [Fact(Timeout = 60_000)]
    public async Task ConnectTwice_WithoutPeerId_SaysAlreadyConnected_AndKeepsTheConnection()
    {
        await using ChatNode alice = await ChatNode.StartAsync("alice");
        await using ChatNode bob = await ChatNode.StartAsync("bob");
        string bare = Multiaddr.Parse(bob.Address).WithoutPeerId().ToString();

        await alice.Chat.SubmitAsync("/connect " + bare, Ct);
        await alice.EventAsync<NoticeEvent>(n => n.Text == $"connected to {bob.Id}");
        await alice.Chat.SubmitAsync("/connect " + bare, Ct);
        await alice.EventAsync<NoticeEvent>(n => n.Text == $"already connected to {bob.Id}");
        await alice.Chat.SubmitAsync("/connect " + bob.Address, Ct);
        await TestHosts.WaitUntilAsync(
            () => alice.Seen.OfType<NoticeEvent>().Count(n => n.Text == $"already connected to {bob.Id}") == 2,
            "a second \"already connected\"", TestNetworks.Wait);

        Connection? kept = alice.Network.Host.GetConnection(bob.Id);
        Assert.NotNull(kept);
        Assert.False(kept.IsClosed);
        Assert.Single(alice.Network.Host.Connections);
        Assert.Single(bob.Network.Host.Connections);
        // The peer stays up: a message still goes through on the connection.
        await TestNetworks.InTopicAsync(alice.Network, bob.Network);
        await alice.Chat.SendAsync("still here", Ct);
        await bob.MessageAsync("still here");
        Assert.Empty(alice.Seen.OfType<PeerDisconnectedEvent>());
        Assert.Empty(bob.Seen.OfType<PeerDisconnectedEvent>());
        Assert.Empty(alice.Seen.OfType<ErrorEvent>());
    }

    [Fact(Timeout = 60_000)]
    public async Task Connect_OwnAddressOrId_IsRefused()
    {
        await using ChatNode alice = await ChatNode.StartAsync("alice");
        string bare = Multiaddr.Parse(alice.Address).WithoutPeerId().ToString();

        await alice.Chat.SubmitAsync("/connect " + bare, Ct);
        ErrorEvent byAddress = await alice.EventAsync<ErrorEvent>(e => e.Message.Contains(bare, StringComparison.Ordinal));
        Assert.EndsWith("that is our own address", byAddress.Message);
        await alice.Chat.SubmitAsync("/connect " + alice.Address, Ct);
        ErrorEvent byId = await alice.EventAsync<ErrorEvent>(e => e.Message.Contains("/p2p/", StringComparison.Ordinal));
        Assert.EndsWith("that is our own peer id", byId.Message);
        Assert.Empty(alice.Network.Host.Connections);
    }

    [Fact(Timeout = 60_000)]
    public async Task APeerThatWentAway_IsShownReconnecting_AndRedialedWhenItIsBack()
    {
        await using ChatNode alice = await ChatNode.StartAsync("alice", Remembering());
        using KeyPair bobKey = KeyPair.Generate();
        Libp2pChatNetwork bob = await StartPeerAsync(bobKey);
        string bobListen = bob.Host.ListenAddresses[0].ToString();
        try
        {
            await alice.Chat.ConnectAsync(bob.ListenAddresses[0], Ct);
            await alice.EventAsync<PeerConnectedEvent>(c => c.Peer.PeerId == bobKey.PeerId.ToString());
        }
        finally
        {
            await bob.DisposeAsync();
        }

        PeerUpdatedEvent away = await alice.EventAsync<PeerUpdatedEvent>(u => u.Peer.PeerId == bobKey.PeerId.ToString() && u.Peer.IsAway);
        Assert.Equal(PeerSource.Remembered, away.Peer.Source);
        Assert.Contains(alice.Chat.Peers, p => p.PeerId == bobKey.PeerId.ToString() && p.IsAway);
        Assert.True(alice.Network.Redialing > 0);

        await using Libp2pChatNetwork bobAgain = await StartPeerAsync(bobKey, bobListen);
        PeerConnectedEvent back = await alice.EventAsync<PeerConnectedEvent>(c => c.Peer.PeerId == bobKey.PeerId.ToString()
            && c.Peer.Source == PeerSource.Remembered);
        Assert.False(back.Peer.IsAway);
        Assert.DoesNotContain(alice.Chat.Peers, p => p.IsAway);
        await TestHosts.WaitUntilAsync(() => alice.Network.Redialing == 0, "the redial ended", TestNetworks.Wait);
    }

    [Fact(Timeout = 60_000)]
    public async Task Forget_RemovesTheAwayPeer_AndStopsRedialingIt()
    {
        await using ChatNode alice = await ChatNode.StartAsync("alice", Remembering());
        using KeyPair bobKey = KeyPair.Generate();
        Libp2pChatNetwork bob = await StartPeerAsync(bobKey);
        try
        {
            await alice.Chat.ConnectAsync(bob.ListenAddresses[0], Ct);
            await alice.EventAsync<PeerConnectedEvent>(c => c.Peer.PeerId == bobKey.PeerId.ToString());
        }
        finally
        {
            await bob.DisposeAsync();
        }
        await alice.EventAsync<PeerUpdatedEvent>(u => u.Peer.PeerId == bobKey.PeerId.ToString() && u.Peer.IsAway);

        await alice.Chat.SubmitAsync("/forget " + PeerInfo.ShortPeerId(bobKey.PeerId.ToString()), Ct);

        await alice.EventAsync<NoticeEvent>(n => n.Text == $"forgot {bobKey.PeerId}; it is no longer redialed");
        await alice.EventAsync<PeerDisconnectedEvent>(d => d.Peer.PeerId == bobKey.PeerId.ToString() && d.Peer.IsAway);
        Assert.Empty(alice.Chat.Peers);
        Assert.Empty(alice.Network.AwayPeers);
        Assert.Empty(alice.Network.RememberedAddresses(bobKey.PeerId));
        await TestHosts.WaitUntilAsync(() => alice.Network.Redialing == 0, "the redial ended", TestNetworks.Wait);
        await alice.Chat.SubmitAsync("/forget " + bobKey.PeerId, Ct);
        await alice.EventAsync<ErrorEvent>(e => e.Message == $"{bobKey.PeerId} is not a remembered peer");
    }

    [Fact(Timeout = 60_000)]
    public async Task ARestartedNode_DialsItsRememberedPeers_WithoutAnyConnect()
    {
        string book = Path.Combine(_directory, "peers.json");
        await using Libp2pChatNetwork bob = await StartPeerAsync(KeyPair.Generate());
        await using (ChatNode first = await ChatNode.StartAsync("alice", Remembering(book)))
        {
            await first.Chat.ConnectAsync(bob.ListenAddresses[0], Ct);
            await first.EventAsync<PeerConnectedEvent>(c => c.Peer.PeerId == bob.Id().ToString());
            await TestHosts.WaitUntilAsync(() => first.Network.RememberedAddresses(bob.Id()).Count > 0, "bob is remembered", TestNetworks.Wait);
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(book));

        await using ChatNode again = await ChatNode.StartAsync("alice", Remembering(book));

        PeerConnectedEvent back = await again.EventAsync<PeerConnectedEvent>(c => c.Peer.PeerId == bob.Id().ToString());
        Assert.Equal(PeerSource.Remembered, back.Peer.Source);
        Assert.Contains(bob.Host.ListenAddresses[0].WithPeerId(bob.Id()), again.Network.RememberedAddresses(bob.Id()));
    }

    [Fact(Timeout = 60_000)]
    public async Task AtStart_APeerUnseenForThirtyDaysIsForgotten_AndARecentOneIsDialed()
    {
        await using Libp2pChatNetwork recent = await StartPeerAsync(KeyPair.Generate());
        await using Libp2pChatNetwork old = await StartPeerAsync(KeyPair.Generate());
        string book = Path.Combine(_directory, "peers.json");
        string Entry(Libp2pChatNetwork peer, int daysAgo) =>
            $$"""{"id":"{{peer.Id()}}","lastSeen":"{{DateTimeOffset.UtcNow.AddDays(-daysAgo).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture)}}","dialed":["{{peer.Host.ListenAddresses[0]}}"],"reported":[]}""";
        await File.WriteAllTextAsync(book, $$"""{"version":1,"peers":[{{Entry(recent, 29)}},{{Entry(old, 31)}}]}""", Ct);

        await using ChatNode alice = await ChatNode.StartAsync("alice", Remembering(book));

        Assert.Empty(alice.Network.RememberedAddresses(old.Id()));
        Assert.NotEmpty(alice.Network.RememberedAddresses(recent.Id()));
        PeerConnectedEvent back = await alice.EventAsync<PeerConnectedEvent>(c => c.Peer.PeerId == recent.Id().ToString());
        Assert.Equal(PeerSource.Remembered, back.Peer.Source);
        Assert.Null(alice.Network.Host.GetConnection(old.Id()));
        Assert.DoesNotContain(alice.Chat.Peers, p => p.PeerId == old.Id().ToString());
        await TestHosts.WaitUntilAsync(() => !File.ReadAllText(book).Contains(old.Id().ToString(), StringComparison.Ordinal),
            "the forgotten peer is gone from the file", TestNetworks.Wait);
    }
}
