using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Protocols;
using Echo.Protocols.Tests;
using Echo.Net.Identity;
using Echo.Net.Tests.Host;

namespace Echo.Interop.Tests;

/// <summary>
/// The chat's wire protocols against the pinned js-libp2p peer: go chat-example JSON rooms over
/// gossipsub (with our default, go's message id), and js playing echo-go on /echo-go/chat/1.0.0.
/// </summary>
public sealed class ChatInteropTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    private static async Task<JsPeer> StartJsAsync(Dictionary<string, string> env)
    {
        await NodeRequirement.EnsureAvailableAsync(Ct);
        return await JsPeer.StartAsync(env, Ct);
    }

    private static Task<JsonElement> JsEventAsync(JsPeer js, string name, Func<JsonElement, bool> match) =>
        js.WaitForEventAsync(e => e.GetProperty("event").GetString() == name && match(e), Long, Ct);

    [Fact(Timeout = 120_000)]
    public async Task JsRoomPeer_GoExampleJson_IsShownInEcho_AndJsSeesEchosMessages()
    {
        await using JsPeer js = await StartJsAsync(new() { ["GOSSIPSUB"] = "1" });
        await js.CommandAsync("subscribe", new { topic = "chat-room:lobby" }, Ct);
        await using ChatNode echo = await ChatNode.StartAsync("alice");
        await echo.Chat.ConnectAsync(js.Addr, Ct);
        PeerId jsId = PeerId.Parse(js.PeerId);
        await TestHosts.WaitUntilAsync(() => echo.Network.Router.TopicPeers("chat-room:lobby").Contains(jsId),
            "js's lobby subscription reached Echo", Long);

        // js -> Echo: go's JSON, no Timestamp; js refuses to publish until it knows a subscriber.
        using (CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            bound.CancelAfter(Long);
            using PeriodicTimer retry = new(TimeSpan.FromMilliseconds(100));
            while (true)
            {
                try
                {
                    JsonElement reply = await js.CommandAsync("chatPublish", new { room = "lobby", nick = "jsnick", text = "hello from js" }, bound.Token);
                    if (reply.GetProperty("recipients").GetArrayLength() > 0)
                        break;
                }
                catch (JsPeerException e) when (e.JsError?.Contains("PublishError", StringComparison.Ordinal) == true
                    || e.JsError?.Contains("NoPeersSubscribedToTopic", StringComparison.Ordinal) == true)
                {
                }
                await retry.WaitForNextTickAsync(bound.Token);
            }
        }
        ChatMessage fromJs = await echo.MessageAsync("hello from js");
        Assert.Equal((js.PeerId, "jsnick", "lobby", MessageOrigin.Room), (fromJs.SenderId, fromJs.SenderNick, fromJs.Room, fromJs.Origin));
        Assert.Equal("jsnick", echo.Chat.NickOf(js.PeerId));

        // Echo -> js: js parses the JSON, SenderID is the signed author, Timestamp is there.
        Task<JsonElement> arrival = JsEventAsync(js, "chat:message", e => e.GetProperty("text").GetString() == "hello js");
        await echo.Chat.SendAsync("hello js", Ct);
        JsonElement atJs = await arrival;
        Assert.Equal("lobby", atJs.GetProperty("room").GetString());
        Assert.Equal("alice", atJs.GetProperty("nick").GetString());
        Assert.Equal(echo.Id.ToString(), atJs.GetProperty("senderId").GetString());
        Assert.Equal(echo.Id.ToString(), atJs.GetProperty("from").GetString());
        ChatMessage sent = await echo.MessageAsync("hello js");
        Assert.Equal(sent.Timestamp.ToUnixTimeMilliseconds(), atJs.GetProperty("timestamp").GetInt64());
    }

    [Fact(Timeout = 120_000)]
    public async Task JsEchoGoPeer_ChatsWithEchoBothWays()
    {
        await using JsPeer js = await StartJsAsync(new() { ["ECHO_GO"] = "1" });
        await using ChatNode echo = await ChatNode.StartAsync("alice");
        await echo.Chat.ConnectAsync(js.Addr, Ct);
        // Echo opens its stream when identify says js speaks echo-go.
        Assert.True((await echo.EventAsync<PeerUpdatedEvent>(u => u.Peer.IsEchoGo)).Peer.IsEchoGo);
        await JsEventAsync(js, "echoGo:stream", e => e.GetProperty("direction").GetString() == "inbound");

        await js.CommandAsync("echoGoSend", new { peer = echo.Id.ToString(), name = "gopher", text = "hi from js" }, Ct);
        ChatMessage line = await echo.MessageAsync("hi from js");
        Assert.Equal(("gopher", js.PeerId, "lobby", MessageOrigin.EchoGo), (line.SenderNick, line.SenderId, line.Room, line.Origin));

        Task<JsonElement> back = JsEventAsync(js, "echoGo:line", e => e.GetProperty("line").GetString() == "alice|hi gopher");
        await echo.Chat.SendAsync("hi gopher", Ct);
        Assert.Equal(echo.Id.ToString(), (await back).GetProperty("peerId").GetString());
    }

    /// <summary>
    /// js opens its echo-go stream on identify exactly as Echo does, so both open at once; js knows
    /// no tie-break. Echo keeps one stream, closes the other gracefully, and no line is lost or doubled.
    /// </summary>
    [Fact(Timeout = 180_000)]
    public async Task JsEchoGoPeer_BothOpenAtOnce_OneStreamRemains_ChatBothWays()
    {
        await using JsPeer js = await StartJsAsync(new() { ["ECHO_GO"] = "open" });
        PeerId jsId = PeerId.Parse(js.PeerId);
        long tieBreaks = 0;
        // Three rounds at least, and more (up to ten) until the two opens have met once.
        for (int round = 0; round < 3 || (tieBreaks == 0 && round < 10); round++)
        {
            await using ChatNode echo = await ChatNode.StartAsync("alice");
            string echoId = echo.Id.ToString();
            Task<JsonElement> jsOpened = JsEventAsync(js, "echoGo:stream", e => e.GetProperty("peerId").GetString() == echoId);
            await echo.Chat.ConnectAsync(js.Addr, Ct);
            await jsOpened;
            await TestHosts.WaitUntilAsync(() => echo.Network.EchoGo.Describe(jsId).ActiveIsOutbound is not null, "Echo has a stream", Long);

            // Both speak at once, while the second stream may still be settling.
            Task<JsonElement> atJs = JsEventAsync(js, "echoGo:line", e => e.GetProperty("line").GetString() == $"alice|early {round}");
            await Task.WhenAll(
                js.CommandAsync("echoGoSend", new { peer = echoId, name = "gopher", text = $"early {round}" }, Ct),
                echo.Chat.SendAsync($"early {round}", Ct));
            await atJs;
            Assert.Equal("gopher", (await echo.EventAsync<MessageEvent>(m => m.Message.Text == $"early {round}" && m.Message.Origin == MessageOrigin.EchoGo)).Message.SenderNick);

            // Settled: one stream on each side.
            await TestHosts.WaitUntilAsync(() => echo.Network.EchoGo.Describe(jsId).Open == 1, "Echo keeps one stream", Long);
            using (PeriodicTimer poll = new(TimeSpan.FromMilliseconds(100)))
            {
                for (int i = 0; (await js.CommandAsync("echoGoStreams", new { peer = echoId }, Ct)).GetProperty("streams").GetArrayLength() != 1; i++)
                {
                    Assert.True(i < 300, "js still has more than one echo-go stream to Echo after 30 s");
                    await poll.WaitForNextTickAsync(Ct);
                }
            }
            Task<JsonElement> late = JsEventAsync(js, "echoGo:line", e => e.GetProperty("line").GetString() == $"alice|late {round}");
            await echo.Chat.SendAsync($"late {round}", Ct);
            await late;
            await js.CommandAsync("echoGoSend", new { peer = echoId, name = "gopher", text = $"late {round}" }, Ct);
            await echo.EventAsync<MessageEvent>(m => m.Message.Text == $"late {round}" && m.Message.Origin == MessageOrigin.EchoGo);
            Assert.Single(echo.Messages, m => m.Text == $"early {round}" && m.Origin == MessageOrigin.EchoGo);
            tieBreaks += echo.Network.EchoGo.TieBreaks;
            await js.CommandAsync("hangup", new { peer = echoId }, Ct);
        }
        Assert.True(tieBreaks > 0, "Echo and js never opened at the same moment in ten rounds");
    }
}
