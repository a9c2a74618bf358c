using System.Net;
using System.Text.Json;
using Microsoft.Playwright;

namespace Echo.Web.Tests;

/// <summary>
/// The acceptance test: `echo-chat --headless --web` serves the page to a real headless Chromium,
/// and a second `echo-chat --headless` process chats with it over libp2p on 127.0.0.1.
/// </summary>
public sealed class WebEndToEndTests(BrowserFixture browser)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 90_000)]
    public async Task ThePage_ChatsWithAnotherNode_BothWays_AndRefusesStrangers()
    {
        _ = browser.Browser; // skip (or fail under CI) before starting processes when there is no browser
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", ["--web", "127.0.0.1:0"], Ct);
        JsonElement web = await alice.NextAsync(e => e.GetProperty("type").GetString() == "web", TimeSpan.FromSeconds(10), Ct);
        Uri url = new(web.GetProperty("url").GetString()!);
        Assert.Equal("127.0.0.1", url.Host);
        Assert.False(web.TryGetProperty("remote", out _));
        await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice.Address], Ct);

        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await browserPage.OpenChatAsync(url);
        Assert.Equal($"http://127.0.0.1:{url.Port}/", page.Url); // the token left the address bar
        await page.Locator($"#peers li[data-peer-id='{bob.PeerId}']").WaitForAsync(new LocatorWaitForOptions { Timeout = 20_000 });

        // Right after connecting, gossipsub peers still exchange subscriptions: probe until bob hears the page.
        using (CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            limit.CancelAfter(TimeSpan.FromSeconds(30));
            for (int probe = 0; ; probe++)
            {
                await browserPage.TypeLineAsync($"probe {probe}");
                try
                {
                    await bob.NextAsync(e => e.GetProperty("type").GetString() == "message"
                                             && e.GetProperty("text").GetString()!.StartsWith("probe ", StringComparison.Ordinal),
                        TimeSpan.FromMilliseconds(500), limit.Token);
                    break;
                }
                catch (TimeoutException) when (!limit.IsCancellationRequested)
                {
                }
            }
        }

        // The page to the other node.
        await browserPage.TypeLineAsync("hello from the browser <b>&amp;</b>");
        JsonElement atBob = await bob.MessageAsync("hello from the browser <b>&amp;</b>", Ct);
        Assert.Equal(alice.PeerId, atBob.GetProperty("from").GetString());
        Assert.Equal("alice", atBob.GetProperty("nick").GetString());
        Assert.Equal("room", atBob.GetProperty("origin").GetString());

        // The other node to the page, live.
        await bob.SendLineAsync("hello from bob <script>window.__xss=1</script>");
        await browserPage.WaitForMessageAsync("hello from bob <script>window.__xss=1</script>", 20_000);
        ILocator fromBob = page.Locator("#messages li.msg", new PageLocatorOptions { HasTextString = "hello from bob" });
        Assert.Equal("bob", await fromBob.Locator(".nick").TextContentAsync());
        Assert.Equal(bob.PeerId, await fromBob.Locator(".nick").GetAttributeAsync("title"));
        Assert.Null(await page.EvaluateAsync<string?>("() => window.__xss === undefined ? null : String(window.__xss)"));

        // The page's own origin may open the WebSocket; a page of another origin on the same host
        // (which the browser sends the session cookie from) may not.
        string probeSocket = $$"""
            () => new Promise(resolve => {
              const ws = new WebSocket('ws://127.0.0.1:{{url.Port}}/ws');
              ws.onopen = () => { ws.close(); resolve('open'); };
              ws.onerror = () => resolve('refused');
            })
            """;
        Assert.Equal("open", await page.EvaluateAsync<string>(probeSocket));
        await browserPage.Context.RouteAsync("http://127.0.0.1:9/**", route => route.FulfillAsync(new RouteFulfillOptions
        {
            ContentType = "text/html",
            Body = "<!doctype html><title>another site on this machine</title>",
        }));
        IPage stranger = await browserPage.Context.NewPageAsync();
        await stranger.GotoAsync("http://127.0.0.1:9/");
        Assert.Equal("refused", await stranger.EvaluateAsync<string>(probeSocket));

        // Without the token's session nothing is served.
        using HttpClient client = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, UseProxy = false });
        Uri page0 = new(url.GetLeftPart(UriPartial.Path));
        using (HttpResponseMessage bare = await client.GetAsync(page0, Ct))
            Assert.Equal(HttpStatusCode.Unauthorized, bare.StatusCode);
        using (HttpResponseMessage wrong = await client.GetAsync(new Uri(page0, "/?token=" + new string('A', 43)), Ct))
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        using (HttpResponseMessage state = await client.GetAsync(new Uri(page0, "/api/state"), Ct))
            Assert.Equal(HttpStatusCode.Unauthorized, state.StatusCode);
        Assert.Empty(browserPage.Dialogs);
        Assert.Empty(browserPage.Errors);
    }

    [Fact(Timeout = 30_000)]
    public async Task TheUrl_IsInAnOwnerOnlyFileWhileTheNodeRuns_AndGoneAfterIt()
    {
        string data = Directory.CreateTempSubdirectory("echo-web-test-").FullName;
        try
        {
            string file = Path.Combine(data, "web-url");
            await using (EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", ["--web", "127.0.0.1:0"], Ct, data))
            {
                JsonElement web = await alice.NextAsync(e => e.GetProperty("type").GetString() == "web", TimeSpan.FromSeconds(10), Ct);
                Assert.Equal(web.GetProperty("url").GetString() + "\n", await File.ReadAllTextAsync(file, Ct));
                if (!OperatingSystem.IsWindows())
                    Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
                await alice.SendLineAsync("/quit");
                Assert.Equal(0, await alice.WaitForExitAsync(TimeSpan.FromSeconds(20), Ct));
            }
            Assert.False(File.Exists(file));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Theory(Timeout = 30_000)]
    [InlineData(new[] { "--web", "0.0.0.0:0" }, "--web-allow-remote")]
    [InlineData(new[] { "--web", "example.com:80" }, "--web")]
    [InlineData(new[] { "--web-allow-remote" }, "--web-allow-remote needs --web")]
    public async Task BadWebOptions_ExitWith2AndSayWhy(string[] args, string expected)
    {
        string data = Directory.CreateTempSubdirectory("echo-web-test-").FullName;
        try
        {
            (int exit, string stderr) = await EchoChatProcess.RunToExitAsync(
                ["--headless", "--no-mdns", "--data-dir", data, "--listen", "/ip4/127.0.0.1/tcp/0", .. args], Ct);
            Assert.Equal(2, exit);
            Assert.Contains(expected, stderr);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task AWebPortInUse_ExitsWith1AndSaysSo()
    {
        using System.Net.Sockets.TcpListener taken = new(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        string data = Directory.CreateTempSubdirectory("echo-web-test-").FullName;
        try
        {
            (int exit, string stderr) = await EchoChatProcess.RunToExitAsync(
                ["--headless", "--no-mdns", "--data-dir", data, "--listen", "/ip4/127.0.0.1/tcp/0", "--web", $"127.0.0.1:{port}"], Ct);
            Assert.Equal(1, exit);
            Assert.Contains($"--web 127.0.0.1:{port}", stderr);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
