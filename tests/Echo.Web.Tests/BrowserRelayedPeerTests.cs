using System.Text.Json;
using Echo.Core;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;

namespace Echo.Web.Tests;

/// <summary>A relayed peer on the page: "via relay" in the peer list, "direct" once upgraded; the relays in use beside the reachability.</summary>
public sealed class BrowserRelayedPeerTests(BrowserFixture browser) : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob00000000000000000000000000000000bobbbbbb";
    private const string Relay = "12D3KooWRelay00000000000000000000000000000rrrrrrrr";
    private const string Circuit = "/ip4/127.0.0.1/tcp/4001/p2p/" + Relay + "/p2p-circuit/p2p/" + Bob;
    private TestWebChat _web = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _web = await TestWebChat.StartAsync(Ct);

    public async ValueTask DisposeAsync() => await _web.DisposeAsync();

    [Fact(Timeout = 60_000)]
    public async Task ARelayedPeer_IsShownViaRelay_ThenDirectOnceUpgraded_AndTheRelaysInUseAreShown()
    {
        await using BrowserPage page = await browser.NewPageAsync();
        await page.OpenChatAsync(_web.Server.Url);
        _web.Network.Inject(new PeerJoined(new PeerInfo(Bob, Circuit, PeerSource.Manual, DateTimeOffset.UtcNow, Nick: "bob") { Relayed = true }));
        ILocator shortLine = page.Page.Locator($"#peers li[data-peer-id='{Bob}'] .short");
        await shortLine.WaitForAsync();
        await page.Page.WaitForFunctionAsync($"() => document.querySelector(\"#peers li[data-peer-id='{Bob}'] .short\").textContent.endsWith('manual · via relay')",
            null, new PageWaitForFunctionOptions { Timeout = 10_000 });

        _web.Network.Inject(new PeerRelayReason(Bob, "hole punch failed after 3 attempts, symmetric NAT suspected"));
        await page.Page.WaitForFunctionAsync(
            $"() => document.querySelector(\"#peers li[data-peer-id='{Bob}']\").title.includes('relayed because: hole punch failed after 3 attempts')",
            null, new PageWaitForFunctionOptions { Timeout = 10_000 });

        _web.Network.Inject(new PeerPathChanged(Bob, "/ip4/127.0.0.1/tcp/4002/p2p/" + Bob, Relayed: false));
        await page.Page.WaitForFunctionAsync($"() => document.querySelector(\"#peers li[data-peer-id='{Bob}'] .short\").textContent.endsWith('manual · direct')",
            null, new PageWaitForFunctionOptions { Timeout = 10_000 });
        Assert.DoesNotContain("relayed because", await page.Page.Locator($"#peers li[data-peer-id='{Bob}']").GetAttributeAsync("title") ?? "",
            StringComparison.Ordinal);

        _web.Network.Inject(new ReachabilityChanged(NodeReachability.Private, []));
        await page.Page.WaitForFunctionAsync("() => document.querySelector('#reachability').textContent === 'reachability: private · no relay'",
            null, new PageWaitForFunctionOptions { Timeout = 10_000 });
        _web.Network.Inject(new RelaysChanged(["/ip4/203.0.113.7/tcp/4001/p2p/" + Relay]));
        await page.Page.WaitForFunctionAsync("() => document.querySelector('#reachability').textContent === 'reachability: private · relays: …rrrrrrrr'",
            null, new PageWaitForFunctionOptions { Timeout = 10_000 });
    }

    [Fact(Timeout = 10_000)]
    public async Task PeerEventsAndTheSnapshot_CarryViaAndTheRelays()
    {
        JsonElement peer = JsonDocument.Parse(WebJson.Event(new PeerConnectedEvent(
            new PeerInfo(Bob, Circuit, PeerSource.Manual, DateTimeOffset.UtcNow) { Relayed = true, RelayReason = "punch failed" }))!).RootElement;
        Assert.Equal("relay", peer.GetProperty("via").GetString());
        Assert.Equal("punch failed", peer.GetProperty("relayReason").GetString());

        FakeChatNetwork network = new();
        await using ChatManager manager = new(network, new ChatOptions { Nick = "web" }, NullLogger<ChatManager>.Instance);
        using ChatSubscription events = manager.Subscribe();
        await manager.StartAsync(Ct);
        Assert.Equal(0, JsonDocument.Parse(await WebJson.SnapshotAsync(manager, Ct)).RootElement.GetProperty("relays").GetArrayLength());
        network.Inject(new RelaysChanged(["/p2p/" + Relay]));
        while (await events.Events.ReadAsync(Ct) is not RelaysEvent)
        {
        }
        JsonElement snapshot = JsonDocument.Parse(await WebJson.SnapshotAsync(manager, Ct)).RootElement;
        Assert.Equal("/p2p/" + Relay, snapshot.GetProperty("relays")[0].GetString());
        JsonElement relays = JsonDocument.Parse(WebJson.Event(new RelaysEvent(["/p2p/" + Relay]))!).RootElement;
        Assert.Equal("relays", relays.GetProperty("type").GetString());
    }
}
