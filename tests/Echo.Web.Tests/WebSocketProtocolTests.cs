using System.Net.WebSockets;
using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Web.Tests;

/// <summary>The page's WebSocket: snapshot, live events, requests, limits.</summary>
public sealed class WebSocketProtocolTests : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";
    private TestWebChat _web = null!;
    private ClientWebSocket _socket = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _web = await TestWebChat.StartAsync(Ct);
        _socket = await _web.OpenSocketAsync(await _web.SignInAsync(Ct), _web.Origin, Ct);
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        await _web.DisposeAsync();
    }

    private Task<JsonElement> NextAsync(string type, Func<JsonElement, bool>? where = null) =>
        TestWebChat.NextAsync(_socket, type, Ct, where);

    private Task SendAsync(object request) => TestWebChat.SendAsync(_socket, request, Ct);

    private static ChatMessage FromBob(string text, string room = "lobby", string nick = "bob") =>
        new($"{Bob}/{Guid.NewGuid():N}", room, Bob, nick, text, DateTimeOffset.UtcNow, MessageOrigin.Room);

    [Fact(Timeout = 10_000)]
    public async Task Snapshot_ComesFirst_WithWhoWeAreRoomsPeersAndMessages()
    {
        // A second page opened after some activity sees it in its snapshot.
        _web.Network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/4002/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));
        _web.Network.Inject(new MessageArrived(FromBob("earlier")));
        await NextAsync("message");
        using ClientWebSocket second = await _web.OpenSocketAsync(await _web.SignInAsync(Ct), _web.Origin, Ct);
        JsonElement snapshot = (await TestWebChat.ReceiveAsync(second, Ct))!.Value;
        Assert.Equal("snapshot", snapshot.GetProperty("type").GetString());
        Assert.Equal(2, snapshot.GetProperty("version").GetInt32());
        Assert.Equal(_web.Network.LocalPeerId, snapshot.GetProperty("peerId").GetString());
        Assert.Equal("alice", snapshot.GetProperty("nick").GetString());
        Assert.Equal("lobby", snapshot.GetProperty("room").GetString());
        Assert.Equal(["lobby"], snapshot.GetProperty("rooms").EnumerateArray().Select(r => r.GetString()));
        JsonElement peer = Assert.Single(snapshot.GetProperty("peers").EnumerateArray());
        Assert.Equal(Bob, peer.GetProperty("peerId").GetString());
        Assert.Equal("inbound", peer.GetProperty("source").GetString());
        JsonElement message = Assert.Single(snapshot.GetProperty("messages").EnumerateArray());
        Assert.Equal("earlier", message.GetProperty("text").GetString());
        Assert.Equal("room", message.GetProperty("origin").GetString());
    }

    [Fact(Timeout = 10_000)]
    public async Task ALine_IsSent_AndComesBackAsOwnMessage()
    {
        await NextAsync("snapshot");
        await SendAsync(new { type = "line", text = "hello from the page" });
        JsonElement message = await NextAsync("message");
        Assert.Equal("hello from the page", message.GetProperty("text").GetString());
        Assert.Equal("self", message.GetProperty("origin").GetString());
        Assert.Equal("alice", message.GetProperty("nick").GetString());
        Assert.Equal("lobby", message.GetProperty("room").GetString());
        Assert.Equal("hello from the page", Assert.Single(_web.Network.Published).Text);
    }

    [Fact(Timeout = 10_000)]
    public async Task Send_NeverRunsACommand()
    {
        await NextAsync("snapshot");
        await SendAsync(new { type = "send", text = "/nick mallory" });
        Assert.Equal("/nick mallory", (await NextAsync("message")).GetProperty("text").GetString());
        Assert.Equal("alice", _web.Chat.Nick);
    }

    [Fact(Timeout = 10_000)]
    public async Task JoinSwitchLeaveNick_ChangeTheChat_AndEveryPageHearsIt()
    {
        await NextAsync("snapshot");
        await SendAsync(new { type = "join", room = "dev" });
        Assert.Equal("dev", (await NextAsync("joined")).GetProperty("room").GetString());
        Assert.Equal("dev", (await NextAsync("current")).GetProperty("room").GetString());
        await SendAsync(new { type = "switch", room = "lobby" });
        Assert.Equal("lobby", (await NextAsync("current")).GetProperty("room").GetString());
        await SendAsync(new { type = "leave", room = "dev" });
        Assert.Equal("dev", (await NextAsync("left")).GetProperty("room").GetString());
        await SendAsync(new { type = "nick", nick = "alicia" });
        Assert.Equal("alicia", (await NextAsync("nick")).GetProperty("nick").GetString());
        Assert.Equal(["dev"], _web.Network.Joined.Where(r => r != "lobby"));
        Assert.Equal(["dev"], _web.Network.Left);
        Assert.Equal("alicia", _web.Chat.Nick);
    }

    [Fact(Timeout = 10_000)]
    public async Task Connect_ReportsSuccessAndFailure()
    {
        await NextAsync("snapshot");
        _web.Network.Connect = address => address.Contains("4002") ? Bob : throw new ChatNetworkException("connection refused");
        await SendAsync(new { type = "connect", address = "/ip4/127.0.0.1/tcp/4002" });
        Assert.Contains(Bob, (await NextAsync("notice")).GetProperty("text").GetString());
        await SendAsync(new { type = "connect", address = "/ip4/127.0.0.1/tcp/4003" });
        Assert.Contains("connection refused", (await NextAsync("error")).GetProperty("message").GetString());
    }

    [Fact(Timeout = 10_000)]
    public async Task LiveEvents_PeersAndMessages_InTheHeadlessShapes()
    {
        await NextAsync("snapshot");
        _web.Network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/4002/p2p/" + Bob, PeerSource.Manual, DateTimeOffset.UtcNow)));
        JsonElement connected = await NextAsync("peer");
        Assert.Equal("connected", connected.GetProperty("event").GetString());
        Assert.Equal("manual", connected.GetProperty("source").GetString());
        _web.Network.Inject(new PeerChanged(Bob, TimeSpan.FromMilliseconds(1.5), true));
        JsonElement updated = await NextAsync("peer");
        Assert.Equal("updated", updated.GetProperty("event").GetString());
        Assert.Equal(1.5, updated.GetProperty("rttMs").GetDouble());
        Assert.True(updated.GetProperty("echoGo").GetBoolean());
        _web.Network.Inject(new MessageArrived(FromBob("hi alice")));
        JsonElement message = await NextAsync("message");
        Assert.Equal(Bob, message.GetProperty("from").GetString());
        Assert.Equal("bob", message.GetProperty("nick").GetString());
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", message.GetProperty("ts").GetString());
        _web.Network.Inject(new PeerLeft(Bob));
        Assert.Equal("disconnected", (await NextAsync("peer", p => p.GetProperty("event").GetString() != "updated"))
            .GetProperty("event").GetString());
    }

    [Fact(Timeout = 10_000)]
    public async Task ARememberedPeerThatIsAway_IsSentReconnecting_WithWhen()
    {
        await NextAsync("snapshot");
        DateTimeOffset next = DateTimeOffset.Parse("2026-05-01T10:00:04.5Z", System.Globalization.CultureInfo.InvariantCulture);
        _web.Network.Inject(new PeerReconnecting(new RememberedPeer(Bob, "/ip4/127.0.0.1/tcp/4002/p2p/" + Bob, next.AddMinutes(-1), next)));

        JsonElement away = await NextAsync("peer");

        Assert.Equal("reconnecting", away.GetProperty("event").GetString());
        Assert.Equal("remembered", away.GetProperty("source").GetString());
        Assert.Equal("2026-05-01T10:00:04.500Z", away.GetProperty("reconnectAt").GetString());
    }

    [Theory(Timeout = 10_000)]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("""{"text":"no type"}""")]
    [InlineData("""{"type":"reboot"}""")]
    [InlineData("""{"type":"join","room":42}""")]
    [InlineData("""{"type":"join"}""")]
    [InlineData("""{"type":"line","text":{"a":{"b":{"c":{"d":1}}}}}""")]
    public async Task AMalformedRequest_IsAnErrorForThisPageOnly_AndTheSocketStaysUsable(string request)
    {
        await NextAsync("snapshot");
        await _socket.SendAsync(System.Text.Encoding.UTF8.GetBytes(request), WebSocketMessageType.Text, true, Ct);
        Assert.False(string.IsNullOrEmpty((await NextAsync("error")).GetProperty("message").GetString()));
        await SendAsync(new { type = "line", text = "still here" });
        Assert.Equal("still here", (await NextAsync("message")).GetProperty("text").GetString());
    }

    [Fact(Timeout = 10_000)]
    public async Task AnOversizedRequest_ClosesTheSocket()
    {
        await NextAsync("snapshot");
        byte[] huge = System.Text.Encoding.UTF8.GetBytes($$"""{"type":"line","text":"{{new string('x', 70_000)}}"}""");
        await _socket.SendAsync(huge, WebSocketMessageType.Text, true, Ct);
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(5));
        while (await TestWebChat.ReceiveAsync(_socket, limit.Token) is not null)
        {
        }
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, _socket.CloseStatus);
        Assert.Empty(_web.Network.Published);
    }

    [Fact(Timeout = 10_000)]
    public async Task Quit_ReachesThePage_AndClosesTheSocket()
    {
        await NextAsync("snapshot");
        await SendAsync(new { type = "line", text = "/quit" });
        await NextAsync("quit");
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(5));
        Assert.Null(await TestWebChat.ReceiveAsync(_socket, limit.Token));
    }

    [Fact(Timeout = 20_000)]
    public async Task HostilePayloads_ArriveAsExactlyTheSameText()
    {
        await NextAsync("snapshot");
        IReadOnlyList<string> payloads = XssPayloads.Generate(1000);
        foreach (string payload in payloads)
            _web.Network.Inject(new MessageArrived(FromBob(payload)));
        foreach (string payload in payloads)
            Assert.Equal(payload, (await NextAsync("message")).GetProperty("text").GetString());
    }

    [Fact(Timeout = 20_000)]
    public async Task ServerShutdown_ClosesOpenPages()
    {
        await NextAsync("snapshot");
        await _web.Server.DisposeAsync();
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            while (await TestWebChat.ReceiveAsync(_socket, limit.Token) is not null)
            {
            }
        }
        catch (WebSocketException)
        {
            // closed without a handshake is closed too
        }
        Assert.NotEqual(WebSocketState.Open, _socket.State);
    }
}
