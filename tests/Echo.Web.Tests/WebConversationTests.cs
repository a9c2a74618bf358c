using System.Net.WebSockets;
using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Ports;

namespace Echo.Web.Tests;

/// <summary>The page is told which conversation each message belongs to, and where in it; what it types goes to the conversation on screen.</summary>
public sealed class WebConversationTests
{
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ChatMessage Said(int n, bool history = false) =>
        new($"{Bob}:{n:x16}", "lobby", Bob, "bob", $"message {n}", DateTimeOffset.FromUnixTimeMilliseconds(1_000_000 + n * 1000L),
            MessageOrigin.Room)
        { FromHistory = history };

    [Fact(Timeout = 20_000)]
    public async Task ALineTypedInADirectConversation_GoesToItsPeer_AndItsEventsNameTheConversation()
    {
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct);
        using ClientWebSocket page = await web.OpenSocketAsync(await web.SignInAsync(Ct), web.Origin, Ct);
        await TestWebChat.NextAsync(page, "snapshot", Ct);
        web.PeerConnects(Bob);
        await TestWebChat.NextAsync(page, "peer", Ct);

        await TestWebChat.SendAsync(page, new { type = "line", text = "//not a command", conversation = "@" + Bob }, Ct);

        JsonElement sent = await TestWebChat.NextAsync(page, "dm-sent", Ct);
        Assert.Equal(("/not a command", "@" + Bob), (sent.GetProperty("text").GetString(), sent.GetProperty("conversation").GetString()));
        Assert.Equal("@" + Bob, (await TestWebChat.NextAsync(page, "dm-ack", Ct)).GetProperty("conversation").GetString());
        (string to, DirectEnvelope envelope) = Assert.Single(web.Direct!.Sent);
        Assert.Equal((Bob, "/not a command"), (to, envelope.Text));
        Assert.Empty(web.Network.Published);
    }

    [Fact(Timeout = 20_000)]
    public async Task EachMessageSaysWhichMessageItFollows_SoHistoryIsDrawnInCoresOrder()
    {
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct);
        using ClientWebSocket page = await web.OpenSocketAsync(await web.SignInAsync(Ct), web.Origin, Ct);
        await TestWebChat.NextAsync(page, "snapshot", Ct);

        web.Network.Inject(new MessageArrived(Said(1)));
        web.Network.Inject(new MessageArrived(Said(3)));
        JsonElement first = await TestWebChat.NextAsync(page, "message", Ct);
        Assert.Equal("#lobby", first.GetProperty("conversation").GetString());
        Assert.False(first.TryGetProperty("after", out _));
        Assert.Equal(Said(1).Id, (await TestWebChat.NextAsync(page, "message", Ct)).GetProperty("after").GetString());

        web.Network.Inject(new HistoryPageFetched("lobby", Bob, [Said(2, history: true)]));
        JsonElement late = await TestWebChat.NextAsync(page, "message", Ct);
        Assert.Equal((Said(2).Id, Said(1).Id), (late.GetProperty("id").GetString(), late.GetProperty("after").GetString()));

        using ClientWebSocket later = await web.OpenSocketAsync(await web.SignInAsync(Ct), web.Origin, Ct);
        JsonElement snapshot = await TestWebChat.NextAsync(later, "snapshot", Ct);
        Assert.Equal([Said(1).Id, Said(2).Id, Said(3).Id],
            snapshot.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        Assert.All(snapshot.GetProperty("messages").EnumerateArray(), m => Assert.Equal("#lobby", m.GetProperty("conversation").GetString()));
    }
}
