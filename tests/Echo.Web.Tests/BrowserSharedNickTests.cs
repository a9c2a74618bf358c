using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Playwright;

namespace Echo.Web.Tests;

/// <summary>Two peers with one nick, as the page shows them: nick@tag in the peer list and the messages.</summary>
public sealed class BrowserSharedNickTests(BrowserFixture browser) : IAsyncLifetime
{
    private const string Alice1 = "12D3KooWAlice1111111111111111111111111111aaaaaaaa";
    private const string Alice2 = "12D3KooWAlice2222222222222222222222222222bbbbbbbb";
    private TestWebChat _web = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _web = await TestWebChat.StartAsync(Ct);

    public async ValueTask DisposeAsync() => await _web.DisposeAsync();

    [Fact(Timeout = 60_000)]
    public async Task TwoAlices_AreShownApart_InThePeerListAndTheMessages()
    {
        await using BrowserPage page = await browser.NewPageAsync();
        await page.OpenChatAsync(_web.Server.Url);
        foreach (string alice in (string[])[Alice1, Alice2])
        {
            _web.Network.Inject(new PeerJoined(new PeerInfo(alice, "/ip4/127.0.0.1/tcp/1/p2p/" + alice, PeerSource.Inbound, DateTimeOffset.UtcNow)));
            _web.Network.Inject(new MessageArrived(new ChatMessage(alice + "/1", "lobby", alice, "alice", "hi from " + alice[^8..],
                DateTimeOffset.UtcNow, MessageOrigin.Room)));
        }
        await page.WaitForMessageAsync("hi from bbbbbbbb");
        await page.Page.WaitForFunctionAsync(
            "() => [...document.querySelectorAll('#peers .nick')].filter(e => e.textContent.startsWith('alice@')).length === 2",
            null, new PageWaitForFunctionOptions { Timeout = 10_000 });

        JsonElement seen = await page.Page.EvaluateAsync<JsonElement>("""
            () => ({
              peers: [...document.querySelectorAll('#peers .nick')].map(e => e.textContent).sort(),
              nicks: [...document.querySelectorAll('#messages li.msg .nick')].map(e => e.textContent),
            })
            """);
        Assert.Equal(["alice@aaaaaaaa", "alice@bbbbbbbb"], seen.GetProperty("peers").EnumerateArray().Select(n => n.GetString()));
        // The first alice spoke before the second was known: only the second's message needed a tag then.
        Assert.Equal(["alice", "alice@bbbbbbbb"], seen.GetProperty("nicks").EnumerateArray().Select(n => n.GetString()));
    }
}
