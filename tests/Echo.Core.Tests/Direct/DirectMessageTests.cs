using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests.Direct;

public sealed class DirectMessageTests : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob111111111111111111111111111111111111111";

    private readonly FakeDirectNetwork _network = new();
    private readonly ChatManager _manager;
    private readonly ChatSubscription _events;

    public DirectMessageTests()
    {
        _manager = new ChatManager(_network, new ChatOptions { Nick = "me" }, NullLogger<ChatManager>.Instance);
        _events = _manager.Subscribe();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await _manager.StartAsync(Ct);

    public async ValueTask DisposeAsync() => await _manager.DisposeAsync();

    private Task<T> NextAsync<T>() where T : ChatEvent => _events!.NextAsync<T>();

    [Fact(Timeout = 10_000)]
    public async Task Msg_ToAnOfflinePeer_WaitsInTheOutboxAndGoesWhenItConnects()
    {
        await _manager.SubmitAsync($"/msg {Bob} first", Ct);
        await _manager.SubmitAsync($"/msg {Bob} second", Ct);
        DirectMessageEvent queued = await NextAsync<DirectMessageEvent>();
        Assert.True(queued.Message.Outgoing);
        Assert.False(queued.Message.Delivered);
        Assert.Empty(_network.Sent);

        _network.Connected[Bob] = true;
        _network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/1/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));

        Assert.Equal(queued.Message.Id, (await NextAsync<DirectDeliveredEvent>()).Id);
        await NextAsync<DirectDeliveredEvent>();
        Assert.Equal(["first", "second"], _network.Sent.Select(s => s.Envelope.Text));
        Assert.All(_network.Sent, s => Assert.Equal(Bob, s.PeerId));
    }

    [Fact(Timeout = 10_000)]
    public async Task Msg_ByNick_GoesToThePeerThatUsesIt()
    {
        _network.Connected[Bob] = true;
        _network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/1/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));
        _network.Inject(new MessageArrived(new ChatMessage("m1", "lobby", Bob, "bob", "hi", DateTimeOffset.UtcNow, MessageOrigin.Room)));
        await NextAsync<MessageEvent>();

        await _manager.SubmitAsync("/msg bob psst", Ct);

        await NextAsync<DirectDeliveredEvent>();
        Assert.Equal(Bob, Assert.Single(_network.Sent).PeerId);
    }

    [Fact(Timeout = 10_000)]
    public async Task Msg_ByTheNickAnAwayPeerAnnouncedBefore_WaitsInThatPeersOutbox()
    {
        // After a restart: bob never wrote, but the network remembers the nick he announced.
        _network.Inject(new PeerReconnecting(new RememberedPeer(Bob, "/ip4/127.0.0.1/tcp/1/p2p/" + Bob, DateTimeOffset.UtcNow.AddMinutes(-5),
            DateTimeOffset.UtcNow.AddSeconds(30), Nick: "bob")));
        await NextAsync<PeerUpdatedEvent>();

        await _manager.SubmitAsync("/msg bob hi", Ct);

        DirectMessageEvent queued = await NextAsync<DirectMessageEvent>();
        Assert.Equal((Bob, true, false), (queued.Message.PeerId, queued.Message.Outgoing, queued.Message.Delivered));
        Assert.Empty(_network.Sent);
        _network.Connected[Bob] = true;
        _network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/1/p2p/" + Bob, PeerSource.Remembered, DateTimeOffset.UtcNow)));
        Assert.Equal(queued.Message.Id, (await NextAsync<DirectDeliveredEvent>()).Id);
        Assert.Equal(("hi", Bob), (Assert.Single(_network.Sent).Envelope.Text, _network.Sent.Single().PeerId));
    }

    [Fact(Timeout = 10_000)]
    public async Task Msg_ToAnUnknownNick_IsAnError()
    {
        await _manager.SubmitAsync("/msg nobody hello", Ct);
        Assert.Contains("no peer known as nobody", (await NextAsync<ErrorEvent>()).Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task DirectArrived_TheSameIdTwice_IsShownOnce()
    {
        DirectEnvelope envelope = new(Echo.Core.Direct.DirectIds.New(), "bob", DateTimeOffset.UtcNow, "secret", null);
        _network.Inject(new DirectArrived(Bob, envelope));
        _network.Inject(new DirectArrived(Bob, envelope));
        _network.Inject(new DirectArrived(Bob, envelope with { Id = Echo.Core.Direct.DirectIds.New(), Text = "next" }));

        DirectMessageEvent first = await NextAsync<DirectMessageEvent>();
        Assert.Equal(("secret", Bob, "bob", false), (first.Message.Text, first.Message.PeerId, first.Message.Nick, first.Message.Outgoing));
        Assert.Equal("next", (await NextAsync<DirectMessageEvent>()).Message.Text);
        Assert.Equal(2, (await _manager.DirectConversationAsync(Bob, 10, Ct)).Count);
    }

    [Theory]
    [InlineData("/msg bob hi there", "bob", "hi there")]
    [InlineData("/dm 12D3KooWX  spaced  ", "12D3KooWX", "spaced")]
    public void Parse_Msg(string line, string target, string text) =>
        Assert.Equal(new Echo.Core.Commands.ChatCommand.Msg(target, text), Echo.Core.Commands.CommandParser.Parse(line));

    [Theory]
    [InlineData("/send a.txt", "a.txt", null)]
    [InlineData("/send a.txt bob", "a.txt", "bob")]
    [InlineData("/send \"my file.txt\" bob", "my file.txt", "bob")]
    public void Parse_Send(string line, string path, string? target) =>
        Assert.Equal(new Echo.Core.Commands.ChatCommand.Send(path, target), Echo.Core.Commands.CommandParser.Parse(line));

    [Theory]
    [InlineData("/msg bob")]
    [InlineData("/send")]
    [InlineData("/send \"unclosed")]
    [InlineData("/get")]
    public void Parse_BadUsage_IsInvalid(string line) =>
        Assert.IsType<Echo.Core.Commands.ChatCommand.Invalid>(Echo.Core.Commands.CommandParser.Parse(line));
}
