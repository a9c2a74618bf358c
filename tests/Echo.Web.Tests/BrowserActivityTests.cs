using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Ports;
using Microsoft.Playwright;

namespace Echo.Web.Tests;

/// <summary>
/// The page in headless Chromium: unread and mention counts in the tab's title, mentions of our nick
/// highlighted, and browser notifications (asked for on a click only). The tab's visibility and the
/// Notification API are stood in for by an init script, since a headless tab is always visible and
/// has nobody to answer a permission prompt.
/// </summary>
public sealed class BrowserActivityTests(BrowserFixture browser)
{
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";

    /// <summary>Lets a test hide and show the tab: <c>window.__setVisibility('hidden' | 'visible')</c>.</summary>
    private const string Visibility = """
        window.__visibility = 'visible';
        Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get() { return window.__visibility; } });
        Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get() { return window.__visibility !== 'visible'; } });
        window.__setVisibility = (v) => { window.__visibility = v; document.dispatchEvent(new Event('visibilitychange')); };
        """;

    /// <summary>A Notification API that records what the page asks for and shows (the permission is granted when asked).</summary>
    private const string Notifications = """
        window.__asked = 0;
        window.__shown = [];
        window.Notification = class extends EventTarget {
          static permission = 'default';
          static async requestPermission() { window.__asked++; window.Notification.permission = 'granted'; return 'granted'; }
          constructor(title, options) { super(); window.__shown.push({ title, body: options.body }); window.__last = this; }
          close() {}
        };
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ChatMessage FromBob(string text) =>
        new($"{Bob}/{Guid.NewGuid():N}", "lobby", Bob, "bob", text, DateTimeOffset.UtcNow, MessageOrigin.Room);

    private static DirectArrived DirectFromBob(string text) =>
        new(Bob, new DirectEnvelope(DirectIds.New(), "bob", DateTimeOffset.UtcNow, text, null));

    private static Task SetVisibilityAsync(IPage page, string visibility) => page.EvaluateAsync("v => window.__setVisibility(v)", visibility);

    private static Task WaitForTitleAsync(IPage page, string title) =>
        page.WaitForFunctionAsync("t => document.title === t", title, new PageWaitForFunctionOptions { Timeout = 10_000 });

    [Fact(Timeout = 60_000)]
    public async Task TheTabTitle_CountsUnreadAndMentions_WhileHidden_AndClearsThemAsTheyAreSeen()
    {
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct);
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await page.AddInitScriptAsync(Visibility);
        await browserPage.OpenChatAsync(web.Server.Url);
        web.PeerConnects(Bob);
        await WaitForTitleAsync(page, "#lobby · Echo");

        // Seen at once while the tab is visible: nothing to count.
        web.Network.Inject(new MessageArrived(FromBob("seen")));
        await browserPage.WaitForMessageAsync("seen");
        Assert.Equal("#lobby · Echo", await page.TitleAsync());

        await SetVisibilityAsync(page, "hidden");
        web.Network.Inject(new MessageArrived(FromBob("hello all")));
        web.Network.Inject(new MessageArrived(FromBob("malice aforethought")));   // not a mention
        await WaitForTitleAsync(page, "(2) #lobby · Echo");
        web.Network.Inject(new MessageArrived(FromBob("hey Alice, look")));
        await WaitForTitleAsync(page, "(3, 1!) #lobby · Echo");
        web.Network.Inject(DirectFromBob("psst"));                                 // a direct message counts as a mention
        await WaitForTitleAsync(page, "(4, 2!) #lobby · Echo");

        // Back in the tab: the room on screen is seen; the direct conversation still waits.
        await SetVisibilityAsync(page, "visible");
        await WaitForTitleAsync(page, "(1, 1!) #lobby · Echo");
        await page.Locator($"#dms li[data-peer-id='{Bob}'] .room-name").ClickAsync();
        await WaitForTitleAsync(page, "@bob · Echo");
        await browserPage.WaitForMessageAsync("psst");
        Assert.Empty(browserPage.Errors);
    }

    [Fact(Timeout = 60_000)]
    public async Task MentionsOfOurNick_AreHighlighted_AsWholeWordsInAnyCase()
    {
        await using TestWebChat web = await TestWebChat.StartAsync(Ct);
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await browserPage.OpenChatAsync(web.Server.Url);
        string[] texts =
        [
            "hey Alice, look", "malice aforethought", "ALICE!", "alice_bot is here", "@alice <b>x</b> and alice",
            "alice-like", "alicé", "(alice)", "nothing",
        ];
        foreach (string text in texts)
            web.Network.Inject(new MessageArrived(FromBob(text)));
        await browserPage.TypeLineAsync("I am alice");                         // our own line is not a mention
        await browserPage.WaitForMessageAsync("I am alice");
        await browserPage.WaitForMessageAsync("nothing");

        JsonElement seen = await page.EvaluateAsync<JsonElement>("""
            () => ({
              lines: [...document.querySelectorAll('#messages li.msg.mention .text')].map(e => e.textContent),
              marked: [...document.querySelectorAll('#messages li.msg .text .mention')].map(e => e.textContent),
              tags: [...document.querySelectorAll('#messages li.msg .text *')].map(e => e.tagName),
            })
            """);
        Assert.Equal(["hey Alice, look", "ALICE!", "@alice <b>x</b> and alice", "(alice)"],
            seen.GetProperty("lines").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["Alice", "ALICE", "alice", "alice", "alice"], seen.GetProperty("marked").EnumerateArray().Select(e => e.GetString()));
        Assert.All(seen.GetProperty("tags").EnumerateArray(), t => Assert.Equal("SPAN", t.GetString()));

        // The rule follows the nick.
        await page.Locator("#nick").FillAsync("bob2");
        await page.Locator("#nick").PressAsync("Enter");
        await page.Locator("#messages li.sys", new PageLocatorOptions { HasTextString = "you are now bob2" }).WaitForAsync();
        web.Network.Inject(new MessageArrived(FromBob("bob2: hi")));
        await page.Locator("#messages li.msg.mention", new PageLocatorOptions { HasTextString = "bob2: hi" }).WaitForAsync();
        Assert.Empty(browserPage.Errors);
    }

    [Fact(Timeout = 60_000)]
    public async Task NotificationPermission_IsAskedOnlyOnAClick_AndMentionsAndDirectMessagesNotifyWhileHidden()
    {
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct);
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await page.AddInitScriptAsync(Visibility + Notifications);
        await browserPage.OpenChatAsync(web.Server.Url);
        web.PeerConnects(Bob);
        ILocator button = page.Locator("#notify");
        await button.WaitForAsync();
        Assert.Equal("Notifications off", await button.TextContentAsync());
        Assert.Equal(0, await page.EvaluateAsync<int>("() => window.__asked"));   // nothing asked on load

        // Off, a hidden tab shows no notification.
        await SetVisibilityAsync(page, "hidden");
        web.Network.Inject(new MessageArrived(FromBob("alice: before")));
        await WaitForTitleAsync(page, "(1, 1!) #lobby · Echo");
        await SetVisibilityAsync(page, "visible");
        Assert.Equal(0, await page.EvaluateAsync<int>("() => window.__shown.length"));

        await button.ClickAsync();
        await page.Locator("#notify[aria-pressed=true]").WaitForAsync();
        Assert.Equal(1, await page.EvaluateAsync<int>("() => window.__asked"));

        // Visible: no notification. Hidden: a mention and a direct message notify, other lines do not.
        web.Network.Inject(new MessageArrived(FromBob("alice: visible")));
        await browserPage.WaitForMessageAsync("alice: visible");
        await SetVisibilityAsync(page, "hidden");
        web.Network.Inject(new MessageArrived(FromBob("just chatting")));
        web.Network.Inject(new MessageArrived(FromBob("alice: <img src=x onerror=window.__xss=1>\u0007")));
        web.Network.Inject(DirectFromBob("psst"));
        await page.WaitForFunctionAsync("() => window.__shown.length === 2", null, new PageWaitForFunctionOptions { Timeout = 10_000 });
        JsonElement shown = await page.EvaluateAsync<JsonElement>("() => window.__shown");
        Assert.Equal([("bob · #lobby", "alice: <img src=x onerror=window.__xss=1>\u2407"), ("bob · direct message", "psst")],
            shown.EnumerateArray().Select(n => (n.GetProperty("title").GetString(), n.GetProperty("body").GetString())));

        // Clicking the notification opens its conversation.
        await page.EvaluateAsync("() => window.__last.dispatchEvent(new Event('click'))");
        await page.Locator("#room-title", new PageLocatorOptions { HasTextString = "@bob" }).WaitForAsync();

        // Turned off again, nothing is shown.
        await SetVisibilityAsync(page, "visible");
        await button.ClickAsync();
        await page.Locator("#notify[aria-pressed=false]").WaitForAsync();
        await SetVisibilityAsync(page, "hidden");
        web.Network.Inject(DirectFromBob("again"));
        await WaitForTitleAsync(page, "(3, 2!) @bob · Echo");      // with the two lines still unread in #lobby
        Assert.Equal(2, await page.EvaluateAsync<int>("() => window.__shown.length"));
        Assert.Equal(1, await page.EvaluateAsync<int>("() => window.__asked"));
        Assert.Null(await page.EvaluateAsync<string?>("() => window.__xss ?? null"));
        Assert.Empty(browserPage.Errors);
    }
}
