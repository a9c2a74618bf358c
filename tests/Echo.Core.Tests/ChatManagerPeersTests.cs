using Echo.Core.Commands;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests;

/// <summary>/connect to a connected peer, away peers in the peer list, and /forget.</summary>
public sealed class ChatManagerPeersTests : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";
    private const string Carol = "12D3KooWCarabcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQ";

    private readonly FakePeerNetwork _network = new();
    private readonly ChatManager _manager;
    private readonly ChatSubscription _events;

    public ChatManagerPeersTests()
    {
        _manager = new ChatManager(_network, new ChatOptions { Nick = "me" }, NullLogger<ChatManager>.Instance);
        _events = _manager.Subscribe();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await _manager.StartAsync(Ct);

    public async ValueTask DisposeAsync() => await _manager.DisposeAsync();

    private Task<T> NextAsync<T>(Func<T, bool>? match = null) where T : ChatEvent => _events!.NextAsync(match);

    private static RememberedPeer Away(string peerId, int inSeconds) =>
        new(peerId, "/ip4/127.0.0.1/tcp/4001/p2p/" + peerId, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(inSeconds));

    [Fact(Timeout = 10_000)]
    public async Task Connect_APeerAlreadyConnected_SaysAlreadyConnected()
    {
        _network.Dial = _ => new ConnectResult(Bob, AlreadyConnected: true);

        await _manager.SubmitAsync("/connect /ip4/127.0.0.1/tcp/4001", Ct);

        Assert.Equal($"already connected to {Bob}", (await NextAsync<NoticeEvent>()).Text);
    }

    [Fact(Timeout = 10_000)]
    public async Task Connect_ANewPeer_SaysConnected()
    {
        _network.Dial = _ => new ConnectResult(Bob, AlreadyConnected: false);
        await _manager.SubmitAsync("/connect /ip4/127.0.0.1/tcp/4001", Ct);
        Assert.Equal($"connected to {Bob}", (await NextAsync<NoticeEvent>()).Text);
    }

    [Fact(Timeout = 10_000)]
    public async Task Connect_OurOwnAddress_IsAnErrorWithTheReason()
    {
        _network.Dial = _ => throw new ChatNetworkException("that is our own address");
        await _manager.SubmitAsync("/connect /ip4/127.0.0.1/tcp/4001", Ct);
        Assert.Equal("cannot connect to /ip4/127.0.0.1/tcp/4001: that is our own address", (await NextAsync<ErrorEvent>()).Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task AnAwayPeer_IsListedReconnecting_UntilItConnects()
    {
        _network.Chat.Inject(new PeerReconnecting(Away(Bob, 30)));

        PeerUpdatedEvent away = await NextAsync<PeerUpdatedEvent>();
        Assert.True(away.Peer.IsAway);
        Assert.Equal(PeerSource.Remembered, away.Peer.Source);
        Assert.Matches("^reconnecting in (29|30)s$", away.Peer.ReconnectText(DateTimeOffset.UtcNow));
        Assert.Equal([Bob], _manager.Peers.Select(p => p.PeerId));
        await _manager.SubmitAsync("/peers", Ct);
        Assert.Matches($"{Bob} .*away, reconnecting in (29|30)s", (await NextAsync<NoticeEvent>()).Text);

        _network.Chat.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/4001/p2p/" + Bob, PeerSource.Remembered, DateTimeOffset.UtcNow)));
        await NextAsync<PeerConnectedEvent>();
        PeerInfo back = Assert.Single(_manager.Peers);
        Assert.False(back.IsAway);
    }

    [Fact(Timeout = 10_000)]
    public async Task AScheduleReadAfterThePeerConnected_DoesNotListItAway()
    {
        _network.Chat.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/4001/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));
        _network.Chat.Inject(new PeerReconnecting(Away(Bob, 5)));
        _network.Chat.Inject(new PeerReconnecting(Away(Carol, 5)));
        await NextAsync<PeerUpdatedEvent>(u => u.Peer.PeerId == Carol);
        Assert.False(_manager.Peers.Single(p => p.PeerId == Bob).IsAway);
    }

    [Fact(Timeout = 10_000)]
    public async Task Forget_ByShortId_ForgetsThePeerAndRemovesItFromTheList()
    {
        _network.Remembered[Bob] = true;
        _network.Chat.Inject(new PeerReconnecting(Away(Bob, 30)));
        await NextAsync<PeerUpdatedEvent>();

        await _manager.SubmitAsync("/forget " + PeerInfo.ShortPeerId(Bob), Ct);

        Assert.Equal([Bob], _network.Forgotten);
        Assert.Equal($"forgot {Bob}; it is no longer redialed", (await NextAsync<NoticeEvent>()).Text);
        Assert.Equal(Bob, (await NextAsync<PeerDisconnectedEvent>()).Peer.PeerId);
        Assert.Empty(_manager.Peers);
    }

    [Fact(Timeout = 10_000)]
    public async Task Forget_ByNick_UsesTheNickLearnedFromMessages()
    {
        _network.Remembered[Bob] = true;
        _network.Chat.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/4001/p2p/" + Bob, PeerSource.Manual, DateTimeOffset.UtcNow,
            Nick: "bob")));
        await NextAsync<PeerConnectedEvent>();

        await _manager.SubmitAsync("/forget bob", Ct);

        Assert.Equal([Bob], _network.Forgotten);
        await NextAsync<NoticeEvent>(n => n.Text.StartsWith("forgot ", StringComparison.Ordinal));
    }

    [Fact(Timeout = 10_000)]
    public async Task AnAwayPeer_IsListedAndForgottenByItsRememberedNick_ButANewAnnouncementWins()
    {
        _network.Remembered[Bob] = true;
        _network.Chat.Inject(new PeerReconnecting(Away(Bob, 30) with { Nick = "bob" }));
        Assert.Equal("bob", (await NextAsync<PeerUpdatedEvent>()).Peer.Nick);
        Assert.Equal("bob", _manager.LabelOf(Bob));

        // Bob comes back announcing another nick, leaves, and the remembered (older) nick does not undo it.
        _network.Chat.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/4001/p2p/" + Bob, PeerSource.Remembered, DateTimeOffset.UtcNow)));
        _network.Chat.Inject(new PeerNickAnnounced(Bob, "robert"));
        await NextAsync<NoticeEvent>(n => n.Text == "bob is now known as robert");
        _network.Chat.Inject(new PeerLeft(Bob));
        _network.Chat.Inject(new PeerReconnecting(Away(Bob, 30) with { Nick = "bob" }));
        Assert.Equal("robert", (await NextAsync<PeerUpdatedEvent>(u => u.Peer.IsAway)).Peer.Nick);

        await _manager.SubmitAsync("/forget bob", Ct);
        Assert.Equal("no remembered peer known as bob; /peers lists them", (await NextAsync<ErrorEvent>()).Message);
        await _manager.SubmitAsync("/forget robert", Ct);
        Assert.Equal($"forgot {Bob}; it is no longer redialed", (await NextAsync<NoticeEvent>()).Text);
        Assert.Equal([Bob], _network.Forgotten);
    }

    [Fact(Timeout = 10_000)]
    public async Task ARememberedNickThatIsNoNick_IsNotLearned()
    {
        _network.Chat.Inject(new PeerReconnecting(Away(Bob, 30) with { Nick = "two words" }));
        Assert.Null((await NextAsync<PeerUpdatedEvent>()).Peer.Nick);
        Assert.Null(_manager.LabelOf(Bob));
    }

    [Fact(Timeout = 10_000)]
    public async Task Forget_AnUnknownName_SaysSo_AndAnUnrememberedId_SaysItWasNotRemembered()
    {
        await _manager.SubmitAsync("/forget nobody", Ct);
        Assert.Equal("no remembered peer known as nobody; /peers lists them", (await NextAsync<ErrorEvent>()).Message);
        Assert.Empty(_network.Forgotten);

        await _manager.SubmitAsync("/forget " + Carol, Ct);
        Assert.Equal($"{Carol} is not a remembered peer", (await NextAsync<ErrorEvent>()).Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task Forget_ANickTwoPeersShare_ListsThemInsteadOfPicking()
    {
        _network.Chat.Inject(new PeerJoined(new PeerInfo(Bob, "a", PeerSource.Manual, DateTimeOffset.UtcNow, Nick: "twin")));
        _network.Chat.Inject(new PeerJoined(new PeerInfo(Carol, "b", PeerSource.Manual, DateTimeOffset.UtcNow, Nick: "twin")));
        await NextAsync<PeerConnectedEvent>(c => c.Peer.PeerId == Carol);

        await _manager.SubmitAsync("/forget twin", Ct);

        string error = (await NextAsync<ErrorEvent>()).Message;
        Assert.Contains(Bob, error);
        Assert.Contains(Carol, error);
        Assert.Empty(_network.Forgotten);
    }

    [Theory]
    [InlineData("/forget", null)]
    [InlineData("/forget a b", null)]
    [InlineData("/forget bob", "bob")]
    public void Parse_Forget(string line, string? target)
    {
        ChatCommand command = CommandParser.Parse(line);
        if (target is null)
            Assert.IsType<ChatCommand.Invalid>(command);
        else
            Assert.Equal(target, Assert.IsType<ChatCommand.Forget>(command).Target);
    }
}
