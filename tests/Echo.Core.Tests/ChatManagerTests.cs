using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests;

public sealed class ChatManagerTests : IAsyncLifetime
{
    private const string Alice = "12D3KooWAlice0000000000000000000000000000000000000";
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";

    private readonly FakeChatNetwork _network = new();
    private readonly ChatManager _manager;
    private readonly ChatSubscription _events;

    public ChatManagerTests()
    {
        // Bursts of a few hundred messages from one author: above the storage quota's default burst.
        _manager = new ChatManager(_network, new ChatOptions { Nick = "me", Ingest = new IngestQuotaOptions { AuthorBurst = 1000 } },
            NullLogger<ChatManager>.Instance);
        _events = _manager.Subscribe();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await _manager.StartAsync(Ct);

    public async ValueTask DisposeAsync() => await _manager.DisposeAsync();

    private Task<T> NextAsync<T>() where T : ChatEvent => _events!.NextAsync<T>();

    private static ChatMessage Incoming(string id, string room, string from, string nick, string text) =>
        new(id, room, from, nick, text, DateTimeOffset.UtcNow, MessageOrigin.Room);

    [Fact(Timeout = 10_000)]
    public async Task Start_JoinsDefaultRoomAndMakesItCurrent()
    {
        Assert.True(_network.Started);
        Assert.Equal(["lobby"], _network.Joined);
        Assert.Equal("lobby", (await NextAsync<RoomJoinedEvent>()).Room);
        Assert.Equal("lobby", (await NextAsync<CurrentRoomChangedEvent>()).Room);
        Assert.Equal("lobby", _manager.CurrentRoom);
    }

    [Fact(Timeout = 10_000)]
    public async Task Submit_Text_PublishesToCurrentRoomWithNickAndShowsIt()
    {
        await _manager.SubmitAsync("hello there", Ct);

        ChatMessage published = Assert.Single(_network.Published);
        Assert.Equal(("lobby", "me", "hello there"), (published.Room, published.SenderNick, published.Text));
        MessageEvent shown = await NextAsync<MessageEvent>();
        Assert.Same(published, shown.Message);
        Assert.Equal([published], _manager.RecentMessages("lobby"));
    }

    [Fact(Timeout = 10_000)]
    public async Task Submit_DoubleSlash_SendsTextStartingWithSlash()
    {
        await _manager.SubmitAsync("//shrug", Ct);
        Assert.Equal("/shrug", Assert.Single(_network.Published).Text);
    }

    [Fact(Timeout = 10_000)]
    public async Task Send_TextOverLimit_IsNotPublishedAndSaysWhy()
    {
        await _manager.SendAsync(new string('x', ChatLimits.MaxTextBytes + 1), Ct);

        Assert.Empty(_network.Published);
        ErrorEvent error = await NextAsync<ErrorEvent>();
        Assert.Contains($"{ChatLimits.MaxTextBytes + 1} bytes", error.Message);
        Assert.Contains($"limit is {ChatLimits.MaxTextBytes}", error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task Send_MultibyteTextAtLimit_IsPublished()
    {
        string text = new('é', ChatLimits.MaxTextBytes / 2); // two UTF-8 bytes each
        await _manager.SendAsync(text, Ct);
        Assert.Equal(text, Assert.Single(_network.Published).Text);
    }

    [Fact(Timeout = 10_000)]
    public async Task Messages_FromNetwork_ArriveInOrderToEverySubscriber()
    {
        using ChatSubscription second = _manager.Subscribe();
        for (int i = 0; i < 200; i++)
            _network.Inject(new MessageArrived(Incoming($"a:{i}", "lobby", Alice, "alice", $"m{i}")));

        for (int i = 0; i < 200; i++)
            Assert.Equal($"m{i}", (await NextAsync<MessageEvent>()).Message.Text);
        List<string> seenBySecond = [];
        while (seenBySecond.Count < 200)
        {
            if (await second.Events.ReadAsync(Ct) is MessageEvent m)
                seenBySecond.Add(m.Message.Text);
        }
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"m{i}"), seenBySecond);
    }

    [Fact(Timeout = 10_000)]
    public async Task Messages_DuplicateId_ShownOnce()
    {
        _network.Inject(new MessageArrived(Incoming("a:1", "lobby", Alice, "alice", "once")));
        _network.Inject(new MessageArrived(Incoming("a:1", "lobby", Alice, "alice", "once")));
        _network.Inject(new MessageArrived(Incoming("a:2", "lobby", Alice, "alice", "marker")));

        Assert.Equal("once", (await NextAsync<MessageEvent>()).Message.Text);
        Assert.Equal("marker", (await NextAsync<MessageEvent>()).Message.Text);
        Assert.Equal(2, _manager.RecentMessages("lobby").Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task Messages_ForRoomNotJoined_AreNotShown()
    {
        _network.Inject(new MessageArrived(Incoming("a:1", "elsewhere", Alice, "alice", "not for us")));
        _network.Inject(new MessageArrived(Incoming("a:2", "lobby", Alice, "alice", "for us")));

        Assert.Equal("for us", (await NextAsync<MessageEvent>()).Message.Text);
        Assert.Empty(_manager.RecentMessages("elsewhere"));
    }

    [Fact(Timeout = 10_000)]
    public async Task Join_SecondRoom_KeepsRoomsApart()
    {
        await _manager.SubmitAsync("/join dev", Ct);
        Assert.Equal(["lobby", "dev"], _manager.Rooms);
        Assert.Equal("dev", _manager.CurrentRoom);

        await _manager.SubmitAsync("in dev", Ct);
        _network.Inject(new MessageArrived(Incoming("a:1", "lobby", Alice, "alice", "in lobby")));
        await NextAsync<MessageEvent>();
        await NextAsync<MessageEvent>();

        Assert.Equal(["in dev"], _manager.RecentMessages("dev").Select(m => m.Text));
        Assert.Equal(["in lobby"], _manager.RecentMessages("lobby").Select(m => m.Text));
        Assert.Equal("dev", Assert.Single(_network.Published).Room);
    }

    [Fact(Timeout = 10_000)]
    public async Task Join_InvalidRoomName_ErrorAndNothingJoined()
    {
        await _manager.SubmitAsync("/join bad\u001b[2Jroom", Ct);
        ErrorEvent error = await NextAsync<ErrorEvent>();
        Assert.Contains("U+001B", error.Message);
        Assert.Equal(["lobby"], _network.Joined);
    }

    [Fact(Timeout = 10_000)]
    public async Task Leave_CurrentRoom_SwitchesToRemainingRoom()
    {
        await _manager.JoinAsync("dev", Ct);
        await _manager.SubmitAsync("/leave", Ct);

        Assert.Equal(["dev"], _network.Left);
        Assert.Equal(["lobby"], _manager.Rooms);
        Assert.Equal("lobby", _manager.CurrentRoom);
        Assert.Equal("dev", (await NextAsync<RoomLeftEvent>()).Room);
    }

    [Fact(Timeout = 10_000)]
    public async Task Leave_LastRoom_TextGetsClearError()
    {
        await _manager.LeaveAsync(null, Ct);
        Assert.Null(_manager.CurrentRoom);

        await _manager.SubmitAsync("anyone?", Ct);
        Assert.Empty(_network.Published);
        Assert.Contains("no room", (await NextAsync<ErrorEvent>()).Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task Nick_Change_LaterMessagesCarryNewNick()
    {
        await _manager.SubmitAsync("/nick alice2", Ct);
        NickChangedEvent changed = await NextAsync<NickChangedEvent>();
        Assert.Equal(("me", "alice2"), (changed.OldNick, changed.NewNick));

        await _manager.SubmitAsync("hi", Ct);
        Assert.Equal("alice2", Assert.Single(_network.Published).SenderNick);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("/nick a|b", "'|'")]
    [InlineData("/nick 0123456789012345678901234567890123", "limit is 32")]
    [InlineData("/nick bell\u0007", "U+0007")]
    [InlineData("/nick rtl\u202eevil", "U+202E")]
    public async Task Nick_Invalid_ErrorNamesTheProblemAndNickKept(string line, string expected)
    {
        await _manager.SubmitAsync(line, Ct);
        Assert.Contains(expected, (await NextAsync<ErrorEvent>()).Message);
        Assert.Equal("me", _manager.Nick);
    }

    [Fact(Timeout = 10_000)]
    public async Task Peers_NickLearnedFromMessages_ShowsInPeerList()
    {
        _network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/1/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));
        Assert.Null((await NextAsync<PeerConnectedEvent>()).Peer.Nick);

        _network.Inject(new MessageArrived(Incoming("b:1", "lobby", Bob, "bob", "hi")));
        Assert.Equal("bob", (await NextAsync<PeerUpdatedEvent>()).Peer.Nick);
        Assert.Equal("bob", Assert.Single(_manager.Peers).Nick);

        _network.Inject(new PeerLeft(Bob));
        Assert.Equal(Bob, (await NextAsync<PeerDisconnectedEvent>()).Peer.PeerId);
        Assert.Empty(_manager.Peers);
    }

    [Fact(Timeout = 10_000)]
    public async Task Peers_Reconnect_KeepsLearnedNick()
    {
        _network.Inject(new MessageArrived(Incoming("b:1", "lobby", Bob, "bob", "hi")));
        await NextAsync<MessageEvent>();
        _network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/1/p2p/" + Bob, PeerSource.Manual, DateTimeOffset.UtcNow)));
        Assert.Equal("bob", (await NextAsync<PeerConnectedEvent>()).Peer.Nick);
    }

    [Fact(Timeout = 10_000)]
    public async Task PeersCommand_ListsPeersWithIdAndAddress()
    {
        _network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/9/p2p/" + Bob, PeerSource.Mdns, DateTimeOffset.UtcNow)));
        await NextAsync<PeerConnectedEvent>();
        _network.Inject(new PeerChanged(Bob, TimeSpan.FromMilliseconds(1.5), null));
        await NextAsync<PeerUpdatedEvent>();

        await _manager.SubmitAsync("/peers", Ct);
        NoticeEvent notice = await NextAsync<NoticeEvent>();
        Assert.Contains(Bob, notice.Text);
        Assert.Contains("/tcp/9/", notice.Text);
        Assert.Contains("1.5 ms", notice.Text);
        Assert.Contains(" mdns ", notice.Text);
        Assert.Contains("since ", notice.Text);
    }

    [Fact(Timeout = 10_000)]
    public async Task Connect_Failure_ErrorCarriesNetworkReason()
    {
        await _manager.SubmitAsync("/connect /ip4/127.0.0.1/tcp/1", Ct);
        ErrorEvent error = await NextAsync<ErrorEvent>();
        Assert.Contains("/ip4/127.0.0.1/tcp/1", error.Message);
        Assert.Contains("connection refused", error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task Connect_Success_NoticeNamesPeer()
    {
        _network.Connect = _ => Bob;
        await _manager.SubmitAsync("/connect /ip4/127.0.0.1/tcp/9", Ct);
        Assert.Contains(Bob, (await NextAsync<NoticeEvent>()).Text);
    }

    [Theory(Timeout = 10_000)]
    [InlineData("/frobnicate", "unknown command /frobnicate")]
    [InlineData("/connect", "usage: /connect")]
    [InlineData("/join a b", "usage: /join")]
    public async Task Submit_BadCommand_ErrorSaysWhy(string line, string expected)
    {
        await _manager.SubmitAsync(line, Ct);
        Assert.Contains(expected, (await NextAsync<ErrorEvent>()).Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task Quit_SignalsSubscribersAndToken()
    {
        await _manager.SubmitAsync("/quit", Ct);
        await NextAsync<QuitEvent>();
        Assert.True(_manager.QuitRequested.IsCancellationRequested);
    }

    [Fact(Timeout = 10_000)]
    public async Task Scrollback_KeepsOnlyTheConfiguredNumberPerRoom()
    {
        await using ChatManager small = new(new FakeChatNetwork(), new ChatOptions { Nick = "me", ScrollbackPerRoom = 3 },
            NullLogger<ChatManager>.Instance);
        await small.StartAsync(Ct);
        for (int i = 0; i < 5; i++)
            await small.SendAsync($"m{i}", Ct);
        Assert.Equal(["m2", "m3", "m4"], small.RecentMessages("lobby").Select(m => m.Text));
    }

    [Fact(Timeout = 10_000)]
    public async Task Dispose_CompletesSubscriptionsAndDisposesNetwork()
    {
        await _manager.DisposeAsync();
        Assert.True(_network.Disposed);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        await foreach (ChatEvent _ in _events.Events.ReadAllAsync(timeout.Token))
        {
        }
        Assert.True(_events.Events.Completion.IsCompleted);
    }
}
