using System.Text;
using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Net.Identity;
using Echo.Protocols;
using Echo.Protocols.EchoGo;

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
    /// echo-go lines longer than the text limit are shown cut, with a visible marker; one far longer
    /// than what is kept of a line is read to its end and shown the same way; the stream lives on.
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task JsEchoGoPeer_OverLongLines_AreShownTruncatedWithAMarker_AndTheStreamLivesOn()
    {
        await using JsPeer js = await StartJsAsync(new() { ["ECHO_GO"] = "1" });
        await using ChatNode echo = await ChatNode.StartAsync("alice");
        string echoId = echo.Id.ToString();
        await echo.Chat.ConnectAsync(js.Addr, Ct);
        await JsEventAsync(js, "echoGo:stream", e => e.GetProperty("direction").GetString() == "inbound");

        // 6,000 characters of two bytes each, then 100 KiB, then a short line on the same stream.
        string wide = "long " + new string('é', 6000);
        string huge = "huge " + new string('x', 100 * 1024);
        await js.CommandAsync("echoGoSend", new { peer = echoId, name = "gopher", text = wide }, Ct);
        await js.CommandAsync("echoGoSend", new { peer = echoId, name = "gopher", text = huge }, Ct);
        await js.CommandAsync("echoGoSend", new { peer = echoId, name = "gopher", text = "still here" }, Ct);

        ChatMessage cut = (await echo.EventAsync<MessageEvent>(m => m.Message.Text.StartsWith("long ", StringComparison.Ordinal))).Message;
        Assert.EndsWith(EchoGoLine.TruncatedMarker, cut.Text, StringComparison.Ordinal);
        Assert.StartsWith(wide[..2000], cut.Text, StringComparison.Ordinal);
        Assert.InRange(Encoding.UTF8.GetByteCount(cut.Text), ChatLimits.MaxTextBytes - 2, ChatLimits.MaxTextBytes);
        Assert.Equal(("gopher", MessageOrigin.EchoGo), (cut.SenderNick, cut.Origin));
        ChatMessage cutHuge = (await echo.EventAsync<MessageEvent>(m => m.Message.Text.StartsWith("huge ", StringComparison.Ordinal))).Message;
        Assert.Equal(huge[..(ChatLimits.MaxTextBytes - Encoding.UTF8.GetByteCount(EchoGoLine.TruncatedMarker))] + EchoGoLine.TruncatedMarker, cutHuge.Text);
        await echo.MessageAsync("still here");
        // Nothing closed: js still has its stream and hears Echo.
        Task<JsonElement> back = JsEventAsync(js, "echoGo:line", e => e.GetProperty("line").GetString() == "alice|after the long ones");
        await echo.Chat.SendAsync("after the long ones", Ct);
        await back;
        JsonElement state = await js.CommandAsync("echoGoState", new { peer = echoId }, Ct);
        Assert.Equal((0, 0), (state.GetProperty("forgotten").GetInt32(), state.GetProperty("refused").GetInt32()));
    }
}
