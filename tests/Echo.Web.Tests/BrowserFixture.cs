using Microsoft.Playwright;

[assembly: AssemblyFixture(typeof(Echo.Web.Tests.BrowserFixture))]

namespace Echo.Web.Tests;

/// <summary>
/// One headless Chromium for the assembly: Debian's <c>/usr/bin/chromium</c> (or <c>ECHO_CHROMIUM</c>),
/// driven by Playwright. Without it the browser tests skip with the reason, except under CI=true,
/// where they fail. scripts/test-setup.sh installs it when run as root.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private string _missing = "";

    public async ValueTask InitializeAsync()
    {
        string path = Environment.GetEnvironmentVariable("ECHO_CHROMIUM") is { Length: > 0 } configured ? configured : "/usr/bin/chromium";
        if (!File.Exists(path))
        {
            _missing = $"no browser at {path}: scripts/test-setup.sh installs Debian's chromium when run as root (or set ECHO_CHROMIUM)";
            return;
        }
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = path, Headless = true });
    }

    /// <summary>The browser; skips the test (fails it under CI=true) when there is none.</summary>
    public IBrowser Browser
    {
        get
        {
            if (_browser is not null)
                return _browser;
            if (Environment.GetEnvironmentVariable("CI") == "true")
                Assert.Fail(_missing);
            Assert.Skip(_missing);
            return null!;
        }
    }

    /// <summary>A fresh browser profile (own cookies) with a page that records dialogs and page errors.</summary>
    public async Task<BrowserPage> NewPageAsync()
    {
        IBrowserContext context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1180, Height = 720 },
        });
        IPage page = await context.NewPageAsync();
        return new BrowserPage(context, page);
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
            await _browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

/// <summary>A page in its own browser context, with what it did that it should not have.</summary>
public sealed class BrowserPage : IAsyncDisposable
{
    private readonly List<string> _dialogs = [];
    private readonly List<string> _errors = [];

    public BrowserPage(IBrowserContext context, IPage page)
    {
        Context = context;
        Page = page;
        page.Dialog += (_, dialog) =>
        {
            lock (_dialogs)
                _dialogs.Add(dialog.Message);
            _ = dialog.DismissAsync();
        };
        page.PageError += (_, error) =>
        {
            lock (_errors)
                _errors.Add(error);
        };
    }

    public IBrowserContext Context { get; }

    public IPage Page { get; }

    public IReadOnlyList<string> Dialogs
    {
        get { lock (_dialogs) return [.. _dialogs]; }
    }

    public IReadOnlyList<string> Errors
    {
        get { lock (_errors) return [.. _errors]; }
    }

    /// <summary>Opens the URL with the token and waits until the page's WebSocket is up.</summary>
    public async Task OpenChatAsync(Uri url)
    {
        await Page.GotoAsync(url.ToString());
        await Page.Locator("#status.online").WaitForAsync(new LocatorWaitForOptions { Timeout = 10_000 });
        // The socket opens before its first message, the snapshot, is drawn: wait for the current room.
        await Page.Locator("#rooms li.current").WaitForAsync(new LocatorWaitForOptions { Timeout = 10_000 });
    }

    /// <summary>Types a line into the send box and presses Enter.</summary>
    public async Task TypeLineAsync(string text)
    {
        await Page.Locator("#text").FillAsync(text);
        await Page.Locator("#text").PressAsync("Enter");
    }

    /// <summary>Waits until a message with exactly <paramref name="text"/> is on the page.</summary>
    public Task WaitForMessageAsync(string text, float timeoutMs = 10_000) =>
        Page.WaitForFunctionAsync(
            "t => [...document.querySelectorAll('#messages li.msg .text')].some(e => e.textContent === t)",
            text, new PageWaitForFunctionOptions { Timeout = timeoutMs });

    public async ValueTask DisposeAsync() => await Context.DisposeAsync();
}
