using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.Protocols.Discovery;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Protocols.Tests.Discovery;

/// <summary>Real adapters on loopback that find each other only through a shared in-memory DHT (no --connect).</summary>
public sealed class DhtRoomNetworkTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly RoomDiscoveryOptions Fast = new() { EagerLookupInterval = TimeSpan.FromMilliseconds(200) };

    private static Action<Libp2pChatNetwork> WithDht(ProviderSpace space, List<FakeProviderRouting>? routings = null) => network =>
    {
        FakeProviderRouting routing = new(space, network.Id(), () => network.Host.AdvertisedAddresses);
        routings?.Add(routing);
        network.ProviderRouting = routing;
        network.DiscoveryOptions = Fast;
    };

    [Fact(Timeout = 60_000)]
    public async Task ThreeNodesInARoom_FindEachOtherThroughTheDht_AndExchangeARoomMessage()
    {
        ProviderSpace space = new();
        await using ChatNode alice = await ChatNode.StartAsync("alice", configure: WithDht(space));
        await using ChatNode bob = await ChatNode.StartAsync("bob", configure: WithDht(space));
        await using ChatNode carol = await ChatNode.StartAsync("carol", configure: WithDht(space));
        ChatNode[] nodes = [alice, bob, carol];
        foreach (ChatNode node in nodes)
            await node.Chat.JoinAsync("natroom", Ct);

        await TestHosts.WaitUntilAsync(() => nodes.All(n => n.Chat.Peers.Count(p => !p.IsAway) == 2), "each node has the other two", TestNetworks.Wait);
        await TestNetworks.InTopicAsync(alice.Network, carol.Network, "natroom");
        await TestNetworks.InTopicAsync(bob.Network, carol.Network, "natroom");

        // Every connection was dialed because the DHT named the peer: one side of each pair says dht, none was dialed by hand.
        foreach (ChatNode node in nodes)
            Assert.All(node.Chat.Peers, p => Assert.Contains(p.Source, new[] { PeerSource.Dht, PeerSource.Inbound }));
        foreach ((ChatNode a, ChatNode b) in new[] { (alice, bob), (alice, carol), (bob, carol) })
        {
            Assert.True(Source(a, b) == PeerSource.Dht || Source(b, a) == PeerSource.Dht,
                $"{a.Chat.Nick} and {b.Chat.Nick}: {Source(a, b)} / {Source(b, a)}");
        }

        await carol.Chat.SendAsync(ConversationIdFor("natroom"), "found you through the dht", Ct);
        foreach (ChatNode node in new[] { alice, bob })
            await node.EventAsync<MessageEvent>(m => m.Message.Room == "natroom" && m.Message.Text == "found you through the dht");

        // The faces' numbers: the room was found through the DHT and the peers are counted.
        ChatNode dialer = nodes.First(n => n.Chat.Peers.Any(p => p.Source == PeerSource.Dht));
        await TestHosts.WaitUntilAsync(() => dialer.Chat.Dht is { PeersFound: > 0 } dht && dht.RoomsFound.Contains("natroom"),
            "the chat knows the room was found through the DHT", TestNetworks.Wait);

        // /peers says dht; /dht shows the mode, the table size and the lookups.
        await dialer.Chat.SubmitAsync("/peers", Ct);
        NoticeEvent peers = await dialer.EventAsync<NoticeEvent>(n => n.Text.Contains("peer(s):", StringComparison.Ordinal));
        Assert.Contains("  dht", peers.Text, StringComparison.Ordinal);
        await dialer.Chat.SubmitAsync("/dht", Ct);
        NoticeEvent text = await dialer.EventAsync<NoticeEvent>(n => n.Text.StartsWith("dht mode:", StringComparison.Ordinal));
        Assert.Contains("dht mode: client", text.Text, StringComparison.Ordinal);
        Assert.Contains("routing table: 7 peer(s)", text.Text, StringComparison.Ordinal);
        Assert.Contains("#natroom", text.Text, StringComparison.Ordinal);
        Assert.Contains("providers", text.Text, StringComparison.Ordinal);
        DhtEvent answer = await dialer.EventAsync<DhtEvent>(e => e.Requested);
        Assert.True(answer.FoundRoom("natroom"));
        Assert.NotEmpty(answer.Status.Lookups);
    }

    [Fact(Timeout = 60_000)]
    public async Task LeavingARoom_StopsItsDiscovery()
    {
        ProviderSpace space = new();
        await using ChatNode alice = await ChatNode.StartAsync("alice", configure: WithDht(space));
        await alice.Chat.JoinAsync("natroom", Ct);
        Assert.True(alice.Network.Discovery!.IsActive("natroom"));

        await alice.Chat.LeaveAsync("natroom", Ct);

        Assert.False(alice.Network.Discovery.IsActive("natroom"));
        Assert.True(alice.Network.Discovery.IsActive("lobby"));
    }

    [Fact(Timeout = 60_000)]
    public async Task DialingAPeerWithNoKnownAddress_FindsItThroughItsPresenceRecord()
    {
        ProviderSpace space = new();
        List<FakeProviderRouting> routings = [];
        await using Libp2pChatNetwork alice = new(TestNetworks.NewHost(), TestNetworks.Options, NullLoggerFactory.Instance);
        await using Libp2pChatNetwork bob = new(TestNetworks.NewHost(), TestNetworks.Options, NullLoggerFactory.Instance);
        WithDht(space, routings)(alice);
        WithDht(space, routings)(bob);
        await alice.StartAsync(Ct);
        await bob.StartAsync(Ct);
        await TestHosts.WaitUntilAsync(() => routings[1].Provides(DiscoveryKeys.Peer(bob.Id())) > 0, "bob's presence is provided", TestNetworks.Wait);
        Assert.Empty(alice.DialCandidates(bob.Id(), []));

        await alice.DialPeerAsync(bob.LocalPeerId, [], Ct);

        PeerJoined joined = await alice.Events.NextAsync<PeerJoined>(j => j.Peer.PeerId == bob.LocalPeerId);
        Assert.Equal(PeerSource.Dht, joined.Peer.Source);
    }

    [Fact(Timeout = 60_000)]
    public async Task WithoutADht_APeerWithNoKnownAddressCannotBeDialed()
    {
        await using Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork bob = await TestNetworks.StartAsync();

        ChatNetworkException e = await Assert.ThrowsAsync<ChatNetworkException>(() => alice.DialPeerAsync(bob.LocalPeerId, [], Ct));

        Assert.Contains("no address", e.Message, StringComparison.Ordinal);
        Assert.Null(alice.GetDhtStatus());
    }

    private static PeerSource? Source(ChatNode at, ChatNode of) =>
        at.Chat.Peers.FirstOrDefault(p => p.PeerId == of.Id.ToString())?.Source;

    private static Echo.Core.Conversations.ConversationId ConversationIdFor(string room) => Echo.Core.Conversations.ConversationId.Room(room);
}
