using System.Collections.Concurrent;
using System.Threading.Channels;
using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests.Peers;

/// <summary>A direct network that also announces nicks: records what the chat announced.</summary>
internal sealed class FakeProfileNetwork : IChatNetwork, IDirectNetwork, IFileTransport, IProfileNetwork
{
    public FakeDirectNetwork Direct { get; } = new();

    public ConcurrentQueue<string> Announced { get; } = new();

    public void AnnounceNick(string nick) => Announced.Enqueue(nick);

    public void Inject(NetworkEvent networkEvent) => Direct.Chat.Inject(networkEvent);

    public string LocalPeerId => Direct.LocalPeerId;

    public IReadOnlyList<string> ListenAddresses => Direct.ListenAddresses;

    public ChannelReader<NetworkEvent> Events => Direct.Events;

    public OfferLookup? Offers { get => Direct.Offers; set => Direct.Offers = value; }

    public Task StartAsync(CancellationToken cancellationToken) => Direct.StartAsync(cancellationToken);

    public Task<string> ConnectAsync(string address, CancellationToken cancellationToken) => Direct.ConnectAsync(address, cancellationToken);

    public Task JoinRoomAsync(string room, CancellationToken cancellationToken) => Direct.JoinRoomAsync(room, cancellationToken);

    public Task LeaveRoomAsync(string room, CancellationToken cancellationToken) => Direct.LeaveRoomAsync(room, cancellationToken);

    public Task<ChatMessage> PublishAsync(string room, string nick, string text, CancellationToken cancellationToken) =>
        Direct.PublishAsync(room, nick, text, cancellationToken);

    public bool IsConnected(string peerId) => Direct.IsConnected(peerId);

    public Task SendDirectAsync(string peerId, DirectEnvelope envelope, CancellationToken cancellationToken) =>
        Direct.SendDirectAsync(peerId, envelope, cancellationToken);

    public Task<ChatMessage> PublishFileOfferAsync(string room, string nick, string text, FileOffer offer, CancellationToken cancellationToken) =>
        Direct.PublishFileOfferAsync(room, nick, text, offer, cancellationToken);

    public Task<(Stream Bytes, long Size)> OpenFileAsync(string peerId, string fileId, long offset, CancellationToken cancellationToken) =>
        Direct.OpenFileAsync(peerId, fileId, offset, cancellationToken);

    public ValueTask DisposeAsync() => Direct.DisposeAsync();
}

public sealed class NickTests : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob111111111111111111111111111111111111111";
    private const string Alice1 = "12D3KooWAlice11111111111111111111111111111111aaaaaaaa";
    private const string Alice2 = "12D3KooWAlice22222222222222222222222222222222bbbbbbbb";

    private FakeProfileNetwork _network = new();
    private readonly InMemoryDirectStore _directStore = new();
    private ChatManager _manager = null!;
    private ChatSubscription _events = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await StartAsync();

    private async Task StartAsync()
    {
        _manager = new ChatManager(_network, new ChatOptions { Nick = "me" }, NullLogger<ChatManager>.Instance, directStore: _directStore);
        _events = _manager.Subscribe();
        await _manager.StartAsync(Ct);
    }

    public async ValueTask DisposeAsync() => await _manager.DisposeAsync();

    private Task<T> NextAsync<T>(Func<T, bool>? match = null) where T : ChatEvent => _events!.NextAsync(match);

    private void Connect(string peerId)
    {
        _network.Direct.Connected[peerId] = true;
        _network.Inject(new PeerJoined(new PeerInfo(peerId, "/ip4/127.0.0.1/tcp/1/p2p/" + peerId, PeerSource.Inbound, DateTimeOffset.UtcNow)));
    }

    private static ChatMessage Said(string id, string from, string nick, string text, bool history = false) =>
        new(id, "lobby", from, nick, text, DateTimeOffset.UtcNow, MessageOrigin.Room) { FromHistory = history };

    [Fact(Timeout = 10_000)]
    public async Task Start_AnnouncesOurNick_AndEveryChange()
    {
        _manager.SetNick("me2");
        _manager.SetNick("me2");
        await NextAsync<NickChangedEvent>();

        Assert.Equal(["me", "me2"], _network.Announced);
    }

    [Fact(Timeout = 10_000)]
    public async Task AnnouncedNick_NamesTheConnectedPeer_AndMsgByNickGoesToIt()
    {
        Connect(Bob);
        _network.Inject(new PeerNickAnnounced(Bob, "bob"));

        PeerUpdatedEvent updated = await NextAsync<PeerUpdatedEvent>(u => u.Peer.PeerId == Bob);
        Assert.Equal(("bob", "bob", false), (updated.Peer.Nick, updated.Peer.Label, updated.Peer.SharedNick));
        Assert.Equal("bob", _manager.NickOf(Bob));

        await _manager.SubmitAsync("/msg bob hello", Ct);

        await NextAsync<DirectDeliveredEvent>();
        Assert.Equal(Bob, Assert.Single(_network.Direct.Sent).PeerId);
    }

    [Fact(Timeout = 10_000)]
    public async Task AnnouncedChange_IsToldAsNowKnownAs()
    {
        Connect(Bob);
        _network.Inject(new PeerNickAnnounced(Bob, "bob"));
        _network.Inject(new PeerNickAnnounced(Bob, "bobby"));

        Assert.Equal("bobby", (await NextAsync<PeerUpdatedEvent>(u => u.Peer.Nick == "bobby")).Peer.Label);
        Assert.Equal("bob is now known as bobby", (await NextAsync<NoticeEvent>()).Text);
        Assert.Equal("bobby", _manager.NickOf(Bob));
    }

    [Fact(Timeout = 10_000)]
    public async Task AnnouncedNick_IsNotReplacedByAMessageOrHistory_ButFillsInForThem()
    {
        const string Carol = "12D3KooWCarol111111111111111111111111111111111111";
        Connect(Bob);
        _network.Inject(new PeerNickAnnounced(Bob, "bob"));
        _network.Inject(new MessageArrived(Said("m1", Bob, "mallory", "a live message with another nick")));
        _network.Inject(new HistoryPageFetched("lobby", Bob, [Said("h1", Carol, "carol", "old", history: true)]));
        _network.Inject(new MessageArrived(Said("m2", Carol, "carl", "newer")));
        _network.Inject(new HistoryPageFetched("lobby", Bob, [Said("h2", Carol, "carol-old", "older still", history: true)]));
        await NextAsync<MessageEvent>(m => m.Message.Id == "h2");

        Assert.Equal("bob", _manager.NickOf(Bob));
        Assert.Equal("carl", _manager.NickOf(Carol));
    }

    [Fact(Timeout = 10_000)]
    public async Task AHistoryPage_TeachesANickNotKnownYet()
    {
        const string Carol = "12D3KooWCarol111111111111111111111111111111111111";
        _network.Inject(new HistoryPageFetched("lobby", Bob, [Said("h1", Carol, "carol", "before you came", history: true)]));
        await NextAsync<MessageEvent>();

        Assert.Equal("carol", _manager.NickOf(Carol));
    }

    [Fact(Timeout = 10_000)]
    public async Task TwoAlices_AreShownApart_AndMsgListsThemInsteadOfPicking()
    {
        Connect(Alice1);
        Connect(Alice2);
        _network.Inject(new PeerNickAnnounced(Alice1, "alice"));
        _network.Inject(new PeerNickAnnounced(Alice2, "alice"));
        await NextAsync<PeerUpdatedEvent>(u => u.Peer.PeerId == Alice1 && u.Peer.SharedNick);
        Assert.Equal("alice@bbbbbbbb", (await NextAsync<PeerUpdatedEvent>(u => u.Peer.PeerId == Alice2 && u.Peer.SharedNick)).Peer.Label);
        Assert.Equal(["alice@aaaaaaaa", "alice@bbbbbbbb"], _manager.Peers.Select(p => p.Label).Order());
        Assert.Equal(("alice@aaaaaaaa", null), (_manager.LabelOf(Alice1), _manager.LabelOf(Bob)));

        _network.Inject(new MessageArrived(Said("m1", Alice2, "alice", "which one am I")));
        ChatMessage shown = (await NextAsync<MessageEvent>()).Message;
        Assert.Equal(("bbbbbbbb", "alice@bbbbbbbb"), (shown.SenderTag, shown.SenderLabel));

        await _manager.SubmitAsync("/msg alice hello", Ct);
        ErrorEvent list = await NextAsync<ErrorEvent>();
        Assert.Contains("alice is the nick of 2 peers", list.Message);
        Assert.Contains($"alice@aaaaaaaa  {Alice1}", list.Message);
        Assert.Contains($"alice@bbbbbbbb  {Alice2}", list.Message);
        Assert.Empty(_network.Direct.Sent);

        await _manager.SubmitAsync("/msg alice@bbbbbbbb just you", Ct);
        await NextAsync<DirectDeliveredEvent>();
        Assert.Equal((Alice2, "just you"), (Assert.Single(_network.Direct.Sent).PeerId, _network.Direct.Sent.Single().Envelope.Text));
    }

    [Fact(Timeout = 10_000)]
    public async Task OneAliceRenamed_IsNoLongerShownWithATag()
    {
        Connect(Alice1);
        Connect(Alice2);
        _network.Inject(new PeerNickAnnounced(Alice1, "alice"));
        _network.Inject(new PeerNickAnnounced(Alice2, "alice"));
        _network.Inject(new PeerNickAnnounced(Alice2, "alicia"));

        await NextAsync<PeerUpdatedEvent>(u => u.Peer.PeerId == Alice1 && !u.Peer.SharedNick);
        Assert.Equal("alice@bbbbbbbb is now known as alicia", (await NextAsync<NoticeEvent>()).Text);
        Assert.Equal(["alice", "alicia"], _manager.Peers.Select(p => p.Label).Order());
    }

    [Fact(Timeout = 10_000)]
    public async Task StoredConversation_TeachesTheNick_SoMsgWorksAfterARestart()
    {
        await _directStore.AddAsync(new DirectMessage(DirectIds.New(), Bob, "bob", "hi from before", DateTimeOffset.UtcNow,
            Outgoing: false, Delivered: true), Ct);
        await _manager.DisposeAsync();
        _network = new FakeProfileNetwork();
        await StartAsync();

        await _manager.SubmitAsync("/msg bob are you there", Ct);

        DirectMessage queued = (await NextAsync<DirectMessageEvent>(d => d.Message.Outgoing)).Message;
        Assert.Equal((Bob, "are you there"), (queued.PeerId, queued.Text));
    }
}
