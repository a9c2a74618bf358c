using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Playwright;

namespace Echo.Web.Tests;

/// <summary>The page in a real headless Chromium against the in-process server over a fake network.</summary>
public sealed class BrowserPageTests(BrowserFixture browser) : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";
    private TestWebChat _web = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _web = await TestWebChat.StartAsync(Ct);

    public async ValueTask DisposeAsync() => await _web.DisposeAsync();

    private static ChatMessage FromBob(string text, string nick = "bob", string room = "lobby") =>
        new($"{Bob}/{Guid.NewGuid():N}", room, Bob, nick, text, DateTimeOffset.UtcNow, MessageOrigin.Room);

    [Fact(Timeout = 60_000)]
    public async Task W5_AThousandHostilePayloads_RenderAsText_InTheSnapshotAndLive()
    {
        IReadOnlyList<string> payloads = XssPayloads.Generate(1000);
        string hostile = "<img src=x onerror=window.__xss=1>";
        _web.Network.Inject(new PeerJoined(new PeerInfo(Bob, $"/ip4/127.0.0.1/tcp/1/p2p/{hostile}", PeerSource.Inbound, DateTimeOffset.UtcNow)));
        // Half arrive before the page opens (its snapshot), half while it is open (live events),
        // from nicks that are payloads themselves.
        for (int i = 0; i < 500; i++)
            _web.Network.Inject(new MessageArrived(FromBob(payloads[i], nick: i % 2 == 1 ? hostile : "bob")));
        await WaitUntilAsync(() => _web.Chat.RecentMessages("lobby").Count == 500);

        await using BrowserPage page = await browser.NewPageAsync();
        await page.OpenChatAsync(_web.Server.Url);
        for (int i = 500; i < payloads.Count; i++)
            _web.Network.Inject(new MessageArrived(FromBob(payloads[i], nick: i % 2 == 1 ? hostile : "bob")));
        await page.Page.WaitForFunctionAsync("n => document.querySelectorAll('#messages li.msg').length >= n", payloads.Count,
            new PageWaitForFunctionOptions { Timeout = 30_000 });

        JsonElement seen = await page.Page.EvaluateAsync<JsonElement>("""
            () => ({
              texts: [...document.querySelectorAll('#messages li.msg .text')].map(e => e.textContent),
              nicks: [...document.querySelectorAll('#messages li.msg .nick')].map(e => e.textContent),
              peerNicks: [...document.querySelectorAll('#peers .nick')].map(e => e.textContent),
              tags: [...new Set([...document.querySelectorAll('#messages *, #peers *')].map(e => e.tagName))],
              handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name)).filter(n => n.startsWith('on')),
              xss: window.__xss === undefined ? null : String(window.__xss),
              parentXss: window.parent.__xss === undefined ? null : String(window.parent.__xss),
              frames: window.frames.length,
            })
            """);
        Assert.Equal(payloads, seen.GetProperty("texts").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(500, seen.GetProperty("nicks").EnumerateArray().Count(n => n.GetString() == hostile));
        Assert.Equal([hostile], seen.GetProperty("peerNicks").EnumerateArray().Select(n => n.GetString()));
        Assert.Subset(new HashSet<string?> { "LI", "TIME", "DIV", "SPAN", "BUTTON" },
            seen.GetProperty("tags").EnumerateArray().Select(t => t.GetString()).ToHashSet());
        Assert.Empty(seen.GetProperty("handlers").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, seen.GetProperty("xss").ValueKind);
        Assert.Equal(JsonValueKind.Null, seen.GetProperty("parentXss").ValueKind);
        Assert.Equal(0, seen.GetProperty("frames").GetInt32());
        Assert.Empty(page.Dialogs);
        Assert.Empty(page.Errors);
    }

    [Fact(Timeout = 60_000)]
    public async Task ThePage_JoinsSwitchesLeavesRenamesConnectsAndSends()
    {
        _web.Network.Connect = address => address.EndsWith("/tcp/4002", StringComparison.Ordinal)
            ? Bob
            : throw new ChatNetworkException("connection refused");
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await browserPage.OpenChatAsync(_web.Server.Url);
        Assert.Equal("#lobby", await page.Locator("#room-title").TextContentAsync());
        Assert.Equal(_web.Network.LocalPeerId, await page.Locator("#self-id").TextContentAsync());

        await page.Locator("#join-room").FillAsync("dev");
        await page.Locator("#join-room").PressAsync("Enter");
        await page.Locator("#rooms li.current[data-room=dev]").WaitForAsync();
        Assert.Contains("dev", _web.Network.Joined);
        Assert.Equal("dev", _web.Chat.CurrentRoom);

        await page.Locator("#rooms li[data-room=lobby] .room-name").ClickAsync();
        await page.Locator("#rooms li.current[data-room=lobby]").WaitForAsync();
        _web.Network.Inject(new MessageArrived(FromBob("psst", room: "dev")));
        await page.Locator("#rooms li[data-room=dev] .unread").WaitForAsync();
        Assert.Equal("1", await page.Locator("#rooms li[data-room=dev] .unread").TextContentAsync());

        await page.Locator("#rooms li[data-room=dev]").HoverAsync();
        await page.Locator("#rooms li[data-room=dev] .leave-room").ClickAsync();
        await page.Locator("#rooms li[data-room=dev]").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Detached });
        Assert.Contains("dev", _web.Network.Left);

        await page.Locator("#nick").FillAsync("alicia");
        await page.Locator("#nick").PressAsync("Enter");
        await WaitUntilAsync(() => _web.Chat.Nick == "alicia");

        await page.Locator("#connect-address").FillAsync("/ip4/127.0.0.1/tcp/4002");
        await page.Locator("#connect-address").PressAsync("Enter");
        await page.Locator("#messages li.sys", new PageLocatorOptions { HasTextString = $"connected to {Bob}" }).WaitForAsync();
        await page.Locator("#connect-address").FillAsync("/ip4/127.0.0.1/tcp/4003");
        await page.Locator("#connect-address").PressAsync("Enter");
        await page.Locator("#messages li.sys.error", new PageLocatorOptions { HasTextString = "connection refused" }).WaitForAsync();

        _web.Network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/4002/p2p/" + Bob, PeerSource.Manual, DateTimeOffset.UtcNow)));
        await page.Locator($"#peers li[data-peer-id='{Bob}']").WaitForAsync();
        Assert.Equal("1", await page.Locator("#peer-count").TextContentAsync());

        await browserPage.TypeLineAsync("hello from the page");
        await browserPage.WaitForMessageAsync("hello from the page");
        Assert.Equal("hello from the page", Assert.Single(_web.Network.Published).Text);
        Assert.Equal("alicia", await page.Locator("#messages li.msg.self .nick").TextContentAsync());
        Assert.Empty(await page.Locator("#text").InputValueAsync());
        Assert.Empty(browserPage.Errors);
    }

    [Fact(Timeout = 30_000)]
    public async Task ThePageWithoutItsSession_SaysSoAndStops()
    {
        await using BrowserPage browserPage = await browser.NewPageAsync();
        await browserPage.OpenChatAsync(_web.Server.Url);
        await browserPage.Context.ClearCookiesAsync();
        await _web.Server.DisposeAsync(); // its pages lose their WebSocket
        await using TestWebChat restarted = await TestWebChat.StartAsync(Ct, new WebChatOptions
        {
            EndPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, _web.Port),
        });
        await browserPage.Page.Locator("#status.offline", new PageLocatorOptions { HasTextString = "signed out" })
            .WaitForAsync(new LocatorWaitForOptions { Timeout = 15_000 });
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(10));
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(20));
        while (!condition())
            await poll.WaitForNextTickAsync(limit.Token);
    }
}
