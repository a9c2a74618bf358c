using Echo.Core.Chat;
using Echo.Core.Ports;
using Microsoft.Playwright;

namespace Echo.Web.Tests;

/// <summary>The page in headless Chromium: /quit asks first, and a stopped node leaves the page saying so, its input disabled.</summary>
public sealed class BrowserQuitTests(BrowserFixture browser) : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";
    private TestWebChat _web = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _web = await TestWebChat.StartAsync(Ct);

    public async ValueTask DisposeAsync() => await _web.DisposeAsync();

    /// <summary>Completes when the chat quits.</summary>
    private Task QuitAsync()
    {
        TaskCompletionSource quit = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _web.Chat.QuitRequested.Register(() => quit.TrySetResult());
        return quit.Task;
    }

    private static async Task AssertStoppedAsync(IPage page)
    {
        await page.Locator("#stopped").WaitForAsync(new LocatorWaitForOptions { Timeout = 10_000 });
        await page.Locator("#status.offline", new PageLocatorOptions { HasTextString = "stopped" }).WaitForAsync();
        Assert.True(await page.Locator("#text").IsDisabledAsync());
        Assert.True(await page.Locator("#send").IsDisabledAsync());
        Assert.True(await page.Locator("#join-room").IsDisabledAsync());
        Assert.Equal("the chat node has stopped", await page.Locator("#text").GetAttributeAsync("placeholder"));
        Assert.StartsWith("stopped", await page.TitleAsync(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task QuitTypedInThePage_AsksFirst_CancelKeepsTheNode_ConfirmStopsItAndDisablesTheInput()
    {
        Task quit = QuitAsync();
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await browserPage.OpenChatAsync(_web.Server.Url);
        ILocator confirm = page.Locator("#confirm-quit");
        Assert.False(await confirm.IsVisibleAsync());

        await browserPage.TypeLineAsync("/quit");
        await confirm.WaitForAsync();
        Assert.Contains("stops the chat node for every window, the TUI too", await confirm.TextContentAsync(), StringComparison.Ordinal);
        await page.Locator("#quit-no").ClickAsync();
        await confirm.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Hidden });
        // Still running: a line typed after is sent and shown, and the input is enabled and empty.
        await browserPage.TypeLineAsync("still here");
        await browserPage.WaitForMessageAsync("still here");
        Assert.False(quit.IsCompleted);
        Assert.False(await page.Locator("#text").IsDisabledAsync());
        Assert.Equal("still here", Assert.Single(_web.Network.Published).Text);

        await browserPage.TypeLineAsync("  /EXIT  ");
        await confirm.WaitForAsync();
        await page.Keyboard.PressAsync("Escape");                            // Escape cancels too
        await confirm.WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Hidden });
        Assert.False(quit.IsCompleted);

        await browserPage.TypeLineAsync("/quit");
        await page.Locator("#quit-yes").ClickAsync();
        await quit.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await AssertStoppedAsync(page);
        Assert.False(await confirm.IsVisibleAsync());
        Assert.Empty(browserPage.Dialogs);
        Assert.Empty(browserPage.Errors);
    }

    [Fact(Timeout = 60_000)]
    public async Task ANodeStoppedElsewhere_LeavesThePageStopped_WithItsInputDisabled()
    {
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await browserPage.OpenChatAsync(_web.Server.Url);
        _web.Network.Inject(new MessageArrived(new ChatMessage($"{Bob}/1", "lobby", Bob, "bob", "hi", DateTimeOffset.UtcNow, MessageOrigin.Room)));
        await browserPage.WaitForMessageAsync("hi");

        _web.Chat.RequestQuit();                                               // as /quit in the terminal does

        await AssertStoppedAsync(page);
        Assert.False(await page.Locator("#confirm-quit").IsVisibleAsync());
        Assert.Empty(browserPage.Errors);
    }
}
