using System.Collections.Concurrent;
using System.Threading.Channels;
using Echo.Core.Chat;
using Echo.Core.Commands;
using Echo.Core.Conversations;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests.Irc;

/// <summary>/me, /away, /whois and /clear through the chat, over a fake network that flags actions, carries profiles and describes peers.</summary>
public sealed class IrcCommandsTests : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";
    private const string BobAddress = "/ip4/127.0.0.1/tcp/4002/p2p/" + Bob;

    private readonly IrcNetwork _network = new();
    private readonly FakeMessageStore _store = new();
    private readonly ChatManager _manager;
    private readonly ChatSubscription _events;

    public IrcCommandsTests()
    {
        _manager = new ChatManager(_network, new ChatOptions { Nick = "alice" }, NullLogger<ChatManager>.Instance, _store);
        _events = _manager.Subscribe();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _manager.StartAsync(Ct);
        await NextAsync<CurrentRoomChangedEvent>();
    }

    public async ValueTask DisposeAsync() => await _manager.DisposeAsync();

    private Task<T> NextAsync<T>(Func<T, bool>? match = null) where T : ChatEvent => _events.NextAsync(match);

    private async Task ConnectBobAsync(PeerSource source = PeerSource.Inbound)
    {
        _network.Inject(new PeerJoined(new PeerInfo(Bob, BobAddress, source, DateTimeOffset.UtcNow)));
        _network.Inject(new PeerNickAnnounced(Bob, "bob"));
        await NextAsync<PeerConnectedEvent>();
        await NextAsync<PeerUpdatedEvent>(u => u.Peer.Nick == "bob");
    }

    [Fact(Timeout = 10_000)]
    public async Task Me_PublishesAnAction_ShownAndStoredWithTheFlag()
    {
        await _manager.SubmitAsync("/me waves at everyone", Ct);

        ChatMessage shown = (await NextAsync<MessageEvent>()).Message;
        Assert.True(shown.Action);
        Assert.Equal("waves at everyone", shown.Text);
        Assert.Equal(("lobby", "alice", "waves at everyone"), Assert.Single(_network.Actions));
        Assert.Empty(_network.Plain);
        Assert.True(Assert.Single(_store.Stored).Action);
    }

    [Fact(Timeout = 10_000)]
    public async Task Me_TooLongWithTheNick_IsRefusedBeforeSending()
    {
        // The readable "* alice …" is what travels, so it is what must fit.
        string action = new('x', ChatLimits.MaxTextBytes - "* alice ".Length + 1);

        await _manager.SubmitAsync("/me " + action, Ct);

        Assert.StartsWith("not sent: message is 4097 bytes", (await NextAsync<ErrorEvent>()).Message, StringComparison.Ordinal);
        Assert.Empty(_network.Actions);
    }

    [Fact(Timeout = 10_000)]
    public async Task Me_OverANetworkThatCannotFlagActions_SendsTheReadableText()
    {
        FakeChatNetwork plain = new();
        await using ChatManager manager = new(plain, new ChatOptions { Nick = "alice" }, NullLogger<ChatManager>.Instance);
        using ChatSubscription events = manager.Subscribe();
        await manager.StartAsync(Ct);

        await manager.SubmitAsync("/me waves", Ct);

        ChatMessage shown = (await events.NextAsync<MessageEvent>()).Message;
        Assert.False(shown.Action);
        Assert.Equal("* alice waves", Assert.Single(plain.Published).Text);
    }

    [Fact(Timeout = 10_000)]
    public async Task Me_InADirectConversation_GoesToItsPeerAsAnAction_NeverToARoom()
    {
        FakeDirectNetwork direct = new();
        direct.Connected[Bob] = true;
        await using ChatManager manager = new(direct, new ChatOptions { Nick = "alice" }, NullLogger<ChatManager>.Instance);
        using ChatSubscription events = manager.Subscribe();
        await manager.StartAsync(Ct);
        direct.Chat.Inject(new PeerJoined(new PeerInfo(Bob, BobAddress, PeerSource.Inbound, DateTimeOffset.UtcNow)));
        await events.NextAsync<PeerConnectedEvent>();

        await manager.RunAsync(new ChatCommand.Me("nods"), ConversationId.Direct(Bob), Ct);

        await events.NextAsync<DirectMessageEvent>(d => d.Message is { Text: "nods", Action: true, Outgoing: true });
        (string to, DirectEnvelope sent) = Assert.Single(direct.Sent);
        Assert.Equal((Bob, "nods", true), (to, sent.Text, sent.Action));   // the network writes the readable "* alice nods" with the flag
        Assert.Empty(direct.Chat.Published);
    }

    [Fact(Timeout = 10_000)]
    public async Task AnArrivedAction_IsShownAsAnAction()
    {
        _network.Inject(new MessageArrived(new ChatMessage(Bob + ":1", "lobby", Bob, "bob", "waves back", DateTimeOffset.UtcNow,
            MessageOrigin.Room)
        { Action = true }));

        ChatMessage shown = (await NextAsync<MessageEvent>()).Message;
        Assert.True(shown.Action);
        Assert.Equal("waves back", shown.Text);
    }

    [Fact(Timeout = 10_000)]
    public async Task Away_IsAnnounced_AndBackClearsIt()
    {
        await _manager.SubmitAsync("/away lunch, back at 2", Ct);
        Assert.Contains("you are away: lunch, back at 2", (await NextAsync<NoticeEvent>()).Text, StringComparison.Ordinal);
        Assert.Equal("lunch, back at 2", _manager.AwayReason);

        await _manager.SubmitAsync("/back", Ct);
        Assert.StartsWith("you are back", (await NextAsync<NoticeEvent>()).Text, StringComparison.Ordinal);
        Assert.Null(_manager.AwayReason);

        await _manager.SubmitAsync("/away", Ct);   // not away: nothing to announce
        Assert.Equal("you are not marked away", (await NextAsync<NoticeEvent>()).Text);
        Assert.Equal(["lunch, back at 2", null], _network.AwayAnnounced);
    }

    [Fact(Timeout = 10_000)]
    public async Task Away_TooLong_IsRefused_AndNothingIsAnnounced()
    {
        await _manager.SubmitAsync("/away " + new string('z', AwayMessage.MaxLength + 1), Ct);

        Assert.StartsWith("away unchanged: the away message is 201 characters", (await NextAsync<ErrorEvent>()).Message, StringComparison.Ordinal);
        Assert.Empty(_network.AwayAnnounced);
        Assert.Null(_manager.AwayReason);
    }

    [Fact(Timeout = 10_000)]
    public async Task APeersAwayMessage_IsOnItsPeerInfo_InPeers_AndClearedWhenBack()
    {
        await ConnectBobAsync();

        _network.Inject(new PeerAwayAnnounced(Bob, "in a meeting"));
        Assert.Equal("in a meeting", (await NextAsync<PeerUpdatedEvent>()).Peer.AwayReason);
        Assert.Equal("bob is away: in a meeting", (await NextAsync<NoticeEvent>()).Text);
        await _manager.SubmitAsync("/peers", Ct);
        Assert.Contains($"{Bob}", (await NextAsync<NoticeEvent>(n => n.Text.Contains("(away: in a meeting)", StringComparison.Ordinal))).Text,
            StringComparison.Ordinal);

        _network.Inject(new PeerAwayAnnounced(Bob, null));
        Assert.Null((await NextAsync<PeerUpdatedEvent>()).Peer.AwayReason);
        Assert.Equal("bob is back", (await NextAsync<NoticeEvent>()).Text);
        Assert.Null(Assert.Single(_manager.Peers).AwayReason);
    }

    [Fact(Timeout = 10_000)]
    public async Task Whois_AConnectedPeer_ShowsIdAddressesConnectionRoundTripFirstSeenAndAway()
    {
        DateTimeOffset first = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        DateTimeOffset opened = DateTimeOffset.UtcNow;
        _network.Details[Bob] = new PeerDetails([new PeerConnectionDetails(BobAddress, Inbound: true, Relayed: false, opened)],
            [BobAddress, "/ip4/192.168.1.7/tcp/4002/p2p/" + Bob], first);
        await ConnectBobAsync();
        _network.Inject(new PeerChanged(Bob, TimeSpan.FromMilliseconds(1.5), null));
        await NextAsync<PeerUpdatedEvent>(u => u.Peer.RoundTrip is not null);
        _network.Inject(new PeerAwayAnnounced(Bob, "lunch"));
        await NextAsync<NoticeEvent>(n => n.Text == "bob is away: lunch");

        await _manager.SubmitAsync("/whois bob", Ct);

        WhoisEvent whois = await NextAsync<WhoisEvent>();
        Assert.Equal((Bob, "bob", "lunch"), (whois.PeerId, whois.Nick, whois.AwayReason));
        PeerConnectionDetails connection = Assert.Single(whois.Connections);
        Assert.True(connection.Inbound);
        Assert.Equal(2, whois.Addresses.Count);
        Assert.Equal(TimeSpan.FromMilliseconds(1.5), whois.RoundTrip);
        Assert.Equal(first, whois.FirstSeen);
        Assert.False(whois.FirstSeenThisRun);
        Assert.Contains($"bob is {Bob}", whois.Text, StringComparison.Ordinal);
        Assert.Contains("connected inbound (it dialed us), direct", whois.Text, StringComparison.Ordinal);
        Assert.Contains("round trip: 1.5 ms", whois.Text, StringComparison.Ordinal);
        Assert.Contains("away: lunch", whois.Text, StringComparison.Ordinal);
        Assert.Contains("192.168.1.7", whois.Text, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Whois_WithoutPeerBookTime_ShowsTheFirstConnectionThisRun()
    {
        await ConnectBobAsync(PeerSource.Manual);

        await _manager.SubmitAsync("/whois " + Bob, Ct);

        WhoisEvent whois = await NextAsync<WhoisEvent>();
        Assert.True(whois.FirstSeenThisRun);
        Assert.NotNull(whois.FirstSeen);
        Assert.False(Assert.Single(whois.Connections).Inbound);   // from the chat's own view: we dialed it
        Assert.Contains("first connection since this node started", whois.Text, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Whois_AnUnknownNick_IsAnError()
    {
        await _manager.SubmitAsync("/whois nobody", Ct);

        Assert.Contains("no peer known as nobody", (await NextAsync<ErrorEvent>()).Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task Clear_ThatReachesTheChat_IsAClearEventForTheCurrentRoom_AndKeepsTheMessages()
    {
        await _manager.SubmitAsync("hello", Ct);
        await NextAsync<MessageEvent>();

        await _manager.SubmitAsync("/clear", Ct);

        Assert.Equal("lobby", (await NextAsync<ClearEvent>()).Room);
        Assert.Single(_manager.RecentMessages("lobby"));
        Assert.Single(_store.Stored);
    }

    /// <summary>A network that flags actions, carries our away message and describes peers.</summary>
    private sealed class IrcNetwork : IChatNetwork, IProfileNetwork, IPeerDetails
    {
        private readonly FakeChatNetwork _chat = new();
        private long _seqno;

        public ConcurrentQueue<(string Room, string Nick, string Action)> Actions { get; } = new();

        public ConcurrentQueue<string> Plain { get; } = new();

        public ConcurrentQueue<string?> AwayAnnounced { get; } = new();

        public ConcurrentDictionary<string, PeerDetails> Details { get; } = new();

        public string LocalPeerId => _chat.LocalPeerId;

        public IReadOnlyList<string> ListenAddresses => _chat.ListenAddresses;

        public ChannelReader<NetworkEvent> Events => _chat.Events;

        public void Inject(NetworkEvent networkEvent) => _chat.Inject(networkEvent);

        public Task StartAsync(CancellationToken cancellationToken) => _chat.StartAsync(cancellationToken);

        public Task<string> ConnectAsync(string address, CancellationToken cancellationToken) => _chat.ConnectAsync(address, cancellationToken);

        public Task JoinRoomAsync(string room, CancellationToken cancellationToken) => _chat.JoinRoomAsync(room, cancellationToken);

        public Task LeaveRoomAsync(string room, CancellationToken cancellationToken) => _chat.LeaveRoomAsync(room, cancellationToken);

        public Task<ChatMessage> PublishAsync(string room, string nick, string text, CancellationToken cancellationToken)
        {
            Plain.Enqueue(text);
            return _chat.PublishAsync(room, nick, text, cancellationToken);
        }

        public Task<ChatMessage> PublishActionAsync(string room, string nick, string action, CancellationToken cancellationToken)
        {
            Actions.Enqueue((room, nick, action));
            return Task.FromResult(new ChatMessage($"{LocalPeerId}/action/{Interlocked.Increment(ref _seqno)}", room, LocalPeerId, nick,
                action, DateTimeOffset.UtcNow, MessageOrigin.Local)
            { Action = true });
        }

        public void AnnounceNick(string nick)
        {
        }

        public void AnnounceAway(string? reason) => AwayAnnounced.Enqueue(reason);

        public PeerDetails? Describe(string peerId) => Details.GetValueOrDefault(peerId);

        public ValueTask DisposeAsync() => _chat.DisposeAsync();
    }
}
