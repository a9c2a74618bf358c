using System.Security.Cryptography;
using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Playwright;

namespace Echo.Web.Tests;

/// <summary>The page in headless Chromium: older history, direct conversations and file downloads.</summary>
public sealed class BrowserDirectAndFilesTests(BrowserFixture browser)
{
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<int> CountAsync(IPage page, string selector) => page.Locator(selector).CountAsync();

    [Fact(Timeout = 60_000)]
    public async Task OlderMessages_LoadAtTheTop_UntilTheStartOfTheHistory()
    {
        FakeMessageStore store = new();
        DateTimeOffset start = DateTimeOffset.UtcNow.AddHours(-1);
        store.Seed(Enumerable.Range(0, 150).Select(i =>
            new ChatMessage($"{Bob}/{i:D4}", "lobby", Bob, "bob", $"stored {i}", start.AddSeconds(i), MessageOrigin.Room)), "lobby");
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct, store);
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await browserPage.OpenChatAsync(web.Server.Url);
        await page.Locator("#messages li.msg.history").First.WaitForAsync();
        Assert.Equal(100, await CountAsync(page, "#messages li.msg"));
        Assert.Equal("stored 50", await page.Locator("#messages li.msg .text").First.TextContentAsync());

        await page.Locator("#messages .older-button").ClickAsync();
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#messages li.msg').length === 150");
        Assert.Equal("stored 0", await page.Locator("#messages li.msg .text").First.TextContentAsync());
        Assert.Equal("stored 149", await page.Locator("#messages li.msg .text").Last.TextContentAsync());
        Assert.Equal(0, await CountAsync(page, "#messages .older-button")); // nothing older is left
        Assert.Empty(browserPage.Errors);
    }

    [Fact(Timeout = 60_000)]
    public async Task HistoryThatArrivesLate_IsDrawnInItsPlace_AsCoreKeepsIt()
    {
        static ChatMessage Said(int n, bool history = false) =>
            new($"{Bob}/{n}", "lobby", Bob, "bob", $"said {n}", DateTimeOffset.UtcNow.AddMinutes(n - 10), MessageOrigin.Room)
            {
                FromHistory = history,
            };
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct);
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await browserPage.OpenChatAsync(web.Server.Url);
        web.Network.Inject(new MessageArrived(Said(1)));
        web.Network.Inject(new MessageArrived(Said(4)));
        await browserPage.WaitForMessageAsync("said 4");

        web.Network.Inject(new HistoryPageFetched("lobby", Bob, [Said(3, history: true), Said(0, history: true), Said(2, history: true)]));

        await page.WaitForFunctionAsync("() => document.querySelectorAll('#messages li.msg').length === 5");
        Assert.Equal(["said 0", "said 1", "said 2", "said 3", "said 4"], await page.Locator("#messages li.msg .text").AllTextContentsAsync());
        Assert.Empty(browserPage.Errors);
    }

    [Fact(Timeout = 60_000)]
    public async Task AMessageTheStoreCouldNotKeep_ShowsANotSavedBadge()
    {
        FakeMessageStore store = new();
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct, store);
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await browserPage.OpenChatAsync(web.Server.Url);
        web.Network.Inject(new MessageArrived(new ChatMessage($"{Bob}/1", "lobby", Bob, "bob", "kept", DateTimeOffset.UtcNow,
            MessageOrigin.Room)));
        await browserPage.WaitForMessageAsync("kept");
        store.FailWrites = "database or disk is full";
        web.Network.Inject(new MessageArrived(new ChatMessage($"{Bob}/2", "lobby", Bob, "bob", "lost", DateTimeOffset.UtcNow,
            MessageOrigin.Room)));
        await browserPage.WaitForMessageAsync("lost");
        await page.Locator("#messages li.msg", new PageLocatorOptions { HasTextString = "lost" })
            .Locator(".badge", new LocatorLocatorOptions { HasTextString = "not saved" }).WaitForAsync();
        Assert.Equal(1, await CountAsync(page, "#messages li.msg .badge.warn"));   // the saved one has none
        Assert.Empty(browserPage.Errors);
    }

    [Fact(Timeout = 60_000)]
    public async Task ADirectConversation_OpensFromThePeerList_SendsPrivately_AndCountsWhatArrivesUnread()
    {
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct);
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await browserPage.OpenChatAsync(web.Server.Url);
        web.PeerConnects(Bob);
        web.Network.Inject(new MessageArrived(new ChatMessage($"{Bob}/1", "lobby", Bob, "bob", "hi all", DateTimeOffset.UtcNow,
            MessageOrigin.Room)));
        await browserPage.WaitForMessageAsync("hi all");

        await page.Locator($"#peers li[data-peer-id='{Bob}']").ClickAsync();
        await page.Locator("#room-title", new PageLocatorOptions { HasTextString = "@bob" }).WaitForAsync();
        Assert.Equal(0, await CountAsync(page, "#messages li.msg"));          // the room's messages are not here
        await browserPage.TypeLineAsync("only for bob");
        await page.Locator("#messages li.msg.dm.self .delivery", new PageLocatorOptions { HasTextString = "✓" }).WaitForAsync();
        (string to, DirectEnvelope sent) = Assert.Single(web.Direct!.Sent);
        Assert.Equal((Bob, "only for bob"), (to, sent.Text));
        Assert.Empty(web.Network.Published);                                    // nothing went to the room

        // Back in the room, bob's answer waits as unread in the direct conversation.
        await page.Locator("#rooms li[data-room=lobby] .room-name").ClickAsync();
        await page.Locator("#room-title", new PageLocatorOptions { HasTextString = "#lobby" }).WaitForAsync();
        web.Network.Inject(new DirectArrived(Bob, new DirectEnvelope(DirectIds.New(), "bob", DateTimeOffset.UtcNow, "got it <i>x</i>", null)));
        await page.Locator($"#dms li[data-peer-id='{Bob}'] .unread", new PageLocatorOptions { HasTextString = "1" }).WaitForAsync();
        Assert.Equal(0, await CountAsync(page, "#messages li.msg.dm"));
        await page.Locator($"#dms li[data-peer-id='{Bob}'] .room-name").ClickAsync();
        await browserPage.WaitForMessageAsync("got it <i>x</i>");
        Assert.Equal(0, await CountAsync(page, $"#dms li[data-peer-id='{Bob}'] .unread"));

        // A reload keeps the conversation (from the snapshot).
        await page.ReloadAsync();
        await page.Locator("#status.online").WaitForAsync();
        await page.Locator($"#dms li[data-peer-id='{Bob}'] .room-name").ClickAsync();
        await browserPage.WaitForMessageAsync("only for bob");
        await browserPage.WaitForMessageAsync("got it <i>x</i>");
        Assert.Empty(browserPage.Errors);
    }

    [Fact(Timeout = 60_000)]
    public async Task AFileOffer_ShowsACard_DownloadsOnClick_AndSaysWhereTheVerifiedFileIs()
    {
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct);
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await browserPage.OpenChatAsync(web.Server.Url);
        web.PeerConnects(Bob);
        byte[] content = RandomNumberGenerator.GetBytes(2 * 1024 * 1024);
        FileOffer offer = web.Direct!.AddRemote("report <final>.pdf", content);
        web.Network.Inject(new RoomFileOffered("lobby", Bob, "bob", offer));

        ILocator card = page.Locator("#messages li.file");
        await card.Locator(".file-get").WaitForAsync();
        Assert.Equal("report <final>.pdf", await card.Locator(".file-name").TextContentAsync());
        Assert.Contains("2.0 MiB", await card.TextContentAsync());
        Assert.Contains(offer.Sha256, await card.Locator(".file-sha").TextContentAsync());
        Assert.Equal(0, await CountAsync(page, "#messages li.file progress")); // nothing is fetched before the click

        await card.Locator(".file-get").ClickAsync();
        await page.Locator("#messages li.file.done").WaitForAsync();
        string state = (await page.Locator("#messages li.file.done .file-state").TextContentAsync())!;
        string path = state["verified and saved to ".Length..];
        Assert.StartsWith("verified and saved to ", state);
        Assert.Equal(content, await File.ReadAllBytesAsync(path, Ct));

        // Reloaded, the page still knows the file is done.
        await page.ReloadAsync();
        await page.Locator("#messages li.file.done").WaitForAsync();
        Assert.Equal(0, await CountAsync(page, "#messages li.file .file-get"));
        Assert.Empty(browserPage.Errors);
    }
}
