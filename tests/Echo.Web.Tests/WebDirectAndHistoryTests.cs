using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Web.Tests;

/// <summary>The page's WebSocket for direct messages, file offers and downloads, and stored history.</summary>
public sealed class WebDirectAndHistoryTests
{
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<ClientWebSocket> OpenAsync(TestWebChat web)
    {
        ClientWebSocket socket = await web.OpenSocketAsync(await web.SignInAsync(Ct), web.Origin, Ct);
        await TestWebChat.NextAsync(socket, "snapshot", Ct);
        return socket;
    }

    [Fact(Timeout = 20_000)]
    public async Task DirectMessages_BothWays_Acknowledged_AndInTheNextPagesSnapshot()
    {
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct);
        using ClientWebSocket page = await OpenAsync(web);
        web.PeerConnects(Bob);
        await TestWebChat.NextAsync(page, "peer", Ct);

        await TestWebChat.SendAsync(page, new { type = "dm", to = Bob, text = "just for you" }, Ct);
        JsonElement sent = await TestWebChat.NextAsync(page, "dm-sent", Ct);
        Assert.Equal(Bob, sent.GetProperty("to").GetString());
        Assert.Equal("just for you", sent.GetProperty("text").GetString());
        string id = sent.GetProperty("id").GetString()!;
        JsonElement ack = await TestWebChat.NextAsync(page, "dm-ack", Ct);
        Assert.Equal(id, ack.GetProperty("id").GetString());
        (string to, DirectEnvelope envelope) = Assert.Single(web.Direct!.Sent);
        Assert.Equal((Bob, "just for you"), (to, envelope.Text));

        web.Network.Inject(new DirectArrived(Bob, new DirectEnvelope(Echo.Core.Direct.DirectIds.New(), "bob", DateTimeOffset.UtcNow,
            "<b>and this</b> for you", null)));
        JsonElement arrived = await TestWebChat.NextAsync(page, "dm", Ct);
        Assert.Equal(Bob, arrived.GetProperty("from").GetString());
        Assert.Equal("bob", arrived.GetProperty("nick").GetString());
        Assert.Equal("<b>and this</b> for you", arrived.GetProperty("text").GetString());

        using ClientWebSocket later = await web.OpenSocketAsync(await web.SignInAsync(Ct), web.Origin, Ct);
        JsonElement snapshot = await TestWebChat.NextAsync(later, "snapshot", Ct);
        JsonElement[] dms = [.. snapshot.GetProperty("dms").EnumerateArray()];
        Assert.Equal(["dm-sent", "dm"], dms.Select(d => d.GetProperty("type").GetString()));
        Assert.True(dms[0].GetProperty("delivered").GetBoolean());
        Assert.Equal("<b>and this</b> for you", dms[1].GetProperty("text").GetString());
    }

    [Fact(Timeout = 20_000)]
    public async Task ADirectMessageToNobodyKnown_IsAnErrorOnThePage()
    {
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct);
        using ClientWebSocket page = await OpenAsync(web);
        await TestWebChat.SendAsync(page, new { type = "dm", to = "carol", text = "hello?" }, Ct);
        Assert.Contains("carol", (await TestWebChat.NextAsync(page, "error", Ct)).GetProperty("message").GetString());
        Assert.Empty(web.Direct!.Sent);
    }

    [Fact(Timeout = 20_000)]
    public async Task AFileOffer_IsDownloadedOnRequest_WithProgress_AndTheSnapshotKnowsWhereItWent()
    {
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct);
        using ClientWebSocket page = await OpenAsync(web);
        web.PeerConnects(Bob);
        byte[] content = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        FileOffer offer = web.Direct!.AddRemote("../../notes <1>.txt", content);
        web.Network.Inject(new RoomFileOffered("lobby", Bob, "bob", offer));
        JsonElement offered = await TestWebChat.NextAsync(page, "file-offer", Ct);
        Assert.Equal((offer.Id, offer.Name, offer.Size, offer.Sha256, Bob, "bob", "lobby"),
            (offered.GetProperty("id").GetString(), offered.GetProperty("name").GetString(), offered.GetProperty("size").GetInt64(),
                offered.GetProperty("sha256").GetString(), offered.GetProperty("from").GetString(), offered.GetProperty("nick").GetString(),
                offered.GetProperty("room").GetString()));

        await TestWebChat.SendAsync(page, new { type = "get", id = offer.Id }, Ct);
        JsonElement progress = await TestWebChat.NextAsync(page, "file-progress", Ct);
        Assert.Equal(offer.Size, progress.GetProperty("size").GetInt64());
        JsonElement done = await TestWebChat.NextAsync(page, "file-done", Ct);
        string path = done.GetProperty("path").GetString()!;
        Assert.Equal(offer.Sha256, done.GetProperty("sha256").GetString());
        Assert.Equal(content, await File.ReadAllBytesAsync(path, Ct));
        Assert.StartsWith(Path.Combine(web.FilesRoot!, "downloads") + Path.DirectorySeparatorChar, path);

        using ClientWebSocket later = await web.OpenSocketAsync(await web.SignInAsync(Ct), web.Origin, Ct);
        JsonElement snapshot = await TestWebChat.NextAsync(later, "snapshot", Ct);
        JsonElement file = Assert.Single(snapshot.GetProperty("files").EnumerateArray());
        Assert.Equal(offer.Id, file.GetProperty("id").GetString());
        Assert.Equal(path, file.GetProperty("path").GetString());
        Assert.Equal(Path.Combine(web.FilesRoot!, "downloads"), snapshot.GetProperty("downloads").GetString());

        // An id nobody offered is an error for that id.
        await TestWebChat.SendAsync(page, new { type = "get", id = "deadbeef" }, Ct);
        JsonElement error = await TestWebChat.NextAsync(page, "file-error", Ct);
        Assert.Equal("deadbeef", error.GetProperty("id").GetString());

        // Cancel reaches the chat: the finished download is no longer running.
        await TestWebChat.SendAsync(page, new { type = "cancel", id = offer.Id }, Ct);
        JsonElement notRunning = await TestWebChat.NextAsync(page, "file-error", Ct);
        Assert.Contains("is running", notRunning.GetProperty("message").GetString());
    }

    [Fact(Timeout = 20_000)]
    public async Task Older_PagesBackThroughTheStoredHistory_ToItsStart_ForThisPageOnly()
    {
        FakeMessageStore store = new();
        DateTimeOffset start = DateTimeOffset.UtcNow.AddHours(-1);
        ChatMessage[] stored = [.. Enumerable.Range(0, 250).Select(i =>
            new ChatMessage($"{Bob}/{i:D4}", "lobby", Bob, "bob", $"stored {i}", start.AddSeconds(i), MessageOrigin.Room))];
        store.Seed(stored, "lobby");
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct, store);
        using ClientWebSocket page = await web.OpenSocketAsync(await web.SignInAsync(Ct), web.Origin, Ct);
        using ClientWebSocket other = await OpenAsync(web);
        JsonElement snapshot = await TestWebChat.NextAsync(page, "snapshot", Ct);
        List<JsonElement> seen = [.. snapshot.GetProperty("messages").EnumerateArray()];
        Assert.Equal(100, seen.Count);
        Assert.All(seen, m => Assert.True(m.GetProperty("history").GetBoolean()));

        bool more = true;
        int pages = 0;
        while (more)
        {
            JsonElement oldest = seen[0];
            await TestWebChat.SendAsync(page, new
            {
                type = "older", room = "lobby", ts = oldest.GetProperty("ts").GetString(), id = oldest.GetProperty("id").GetString(),
            }, Ct);
            JsonElement older = await TestWebChat.NextAsync(page, "older", Ct);
            Assert.Equal("lobby", older.GetProperty("room").GetString());
            seen.InsertRange(0, older.GetProperty("messages").EnumerateArray());
            more = older.GetProperty("more").GetBoolean();
            pages++;
        }
        Assert.Equal(stored.Select(m => m.Text), seen.Select(m => m.GetProperty("text").GetString()));
        Assert.Equal(2, pages);

        // The other page asked nothing and hears nothing of it: its next event is a new message.
        web.Network.Inject(new MessageArrived(new ChatMessage($"{Bob}/new", "lobby", Bob, "bob", "live", DateTimeOffset.UtcNow,
            MessageOrigin.Room)));
        JsonElement next = (await TestWebChat.ReceiveAsync(other, Ct))!.Value;
        Assert.Equal("message", next.GetProperty("type").GetString());
        Assert.False(next.TryGetProperty("history", out _));
    }

    [Theory(Timeout = 10_000)]
    [InlineData("""{"type":"dm","to":"bob"}""", "text")]
    [InlineData("""{"type":"get"}""", "id")]
    [InlineData("""{"type":"line","text":"hi","conversation":"lobby"}""", "conversation")]
    [InlineData("""{"type":"cancel"}""", "id")]
    [InlineData("""{"type":"older","room":"lobby","ts":"yesterday","id":"x"}""", "ts")]
    public async Task MalformedNewRequests_AreErrorsThatNameTheField(string request, string field)
    {
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct);
        using ClientWebSocket page = await OpenAsync(web);
        await page.SendAsync(Encoding.UTF8.GetBytes(request), WebSocketMessageType.Text, true, Ct);
        Assert.Contains($"'{field}'", (await TestWebChat.NextAsync(page, "error", Ct)).GetProperty("message").GetString());
    }
}
