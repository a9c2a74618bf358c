using System.Text.Json;
using Echo.Core;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;

namespace Echo.Web.Tests;

/// <summary>The DHT's numbers reach the page as an event and in the snapshot, and the page shows them.</summary>
public sealed class WebDhtTests(BrowserFixture browser)
{
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void TheEvent_HasTheHeadlessShapeWithoutLookups()
    {
        DhtStatus status = new("client", 23, 2, ["natroom"], [new DhtLookup("providers", DateTimeOffset.UtcNow, TimeSpan.FromSeconds(1), 3, 2, 1)]);

        Assert.Equal("""{"type":"dht","mode":"client","routingTable":23,"peersFound":2,"roomsFound":["natroom"]}""",
            System.Text.Encoding.UTF8.GetString(WebJson.Event(new DhtEvent(status, Requested: false))!));
    }

    [Fact(Timeout = 10_000)]
    public async Task TheSnapshot_CarriesTheDht_OnlyOnceReported()
    {
        FakeChatNetwork network = new();
        await using ChatManager manager = new(network, new ChatOptions { Nick = "web" }, NullLogger<ChatManager>.Instance);
        using ChatSubscription events = manager.Subscribe();
        await manager.StartAsync(Ct);
        JsonElement before = JsonDocument.Parse(await WebJson.SnapshotAsync(manager, Ct)).RootElement;
        Assert.False(before.TryGetProperty("dht", out _));

        network.Inject(new DhtStatusChanged(new DhtStatus("server", 40, 1, ["lobby"], [])));
        while (await events.Events.ReadAsync(Ct) is not DhtEvent)
        {
        }

        JsonElement after = JsonDocument.Parse(await WebJson.SnapshotAsync(manager, Ct)).RootElement;
        Assert.Equal(40, after.GetProperty("dht").GetProperty("routingTable").GetInt32());
        Assert.Equal("lobby", after.GetProperty("dht").GetProperty("roomsFound")[0].GetString());
    }

    [Fact(Timeout = 60_000)]
    public async Task ThePage_ShowsThePeersKnown_AndWhetherTheRoomWasFoundThroughTheDht()
    {
        await using TestWebChat web = await TestWebChat.StartAsync(Ct);
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await browserPage.OpenChatAsync(web.Server.Url);
        Assert.Equal("", await page.Locator("#dht").TextContentAsync());

        web.Network.Inject(new DhtStatusChanged(new DhtStatus("client", 23, 0, [], [])));
        await page.Locator("#dht", new PageLocatorOptions { HasTextString = "DHT (client): 23 peers known, 0 found" }).WaitForAsync();
        Assert.DoesNotContain("found through the DHT", await page.Locator("#dht").TextContentAsync(), StringComparison.Ordinal);

        web.Network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/4001/p2p/" + Bob, PeerSource.Dht, DateTimeOffset.UtcNow)));
        web.Network.Inject(new DhtStatusChanged(new DhtStatus("client", 24, 1, ["lobby"], [])));
        await page.Locator("#dht", new PageLocatorOptions { HasTextString = "24 peers known, 1 found · #lobby found through the DHT" }).WaitForAsync();
        await page.Locator("#peers li", new PageLocatorOptions { HasTextString = "dht" }).WaitForAsync();
    }
}
