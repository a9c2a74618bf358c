using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Playwright;

namespace Echo.Web.Tests;

/// <summary>/me actions, an away peer and /clear, as the page shows them.</summary>
public sealed class BrowserIrcTests(BrowserFixture browser) : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob00000000000000000000000000000000bobbobbo";
    private TestWebChat _web = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _web = await TestWebChat.StartAsync(Ct);

    public async ValueTask DisposeAsync() => await _web.DisposeAsync();

    [Fact(Timeout = 60_000)]
    public async Task AnAction_ReadsStarNickText_AnAwayPeerIsMarked_AndClearEmptiesOnlyThePage()
    {
        await using BrowserPage page = await browser.NewPageAsync();
        await page.OpenChatAsync(_web.Server.Url);
        _web.Network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/1/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));
        _web.Network.Inject(new PeerNickAnnounced(Bob, "bob"));
        _web.Network.Inject(new PeerAwayAnnounced(Bob, "lunch"));
        _web.Network.Inject(new MessageArrived(new ChatMessage(Bob + "/1", "lobby", Bob, "bob", "waves", DateTimeOffset.UtcNow,
            MessageOrigin.Room)
        { Action = true }));
        _web.Network.Inject(new MessageArrived(new ChatMessage(Bob + "/2", "lobby", Bob, "bob", "plain words", DateTimeOffset.UtcNow,
            MessageOrigin.Room)));

        await page.WaitForMessageAsync("plain words");
        await page.Page.WaitForFunctionAsync("() => [...document.querySelectorAll('#peers .badge')].some(e => e.textContent === 'away')",
            null, new PageWaitForFunctionOptions { Timeout = 10_000 });
        JsonElement seen = await page.Page.EvaluateAsync<JsonElement>("""
            () => [...document.querySelectorAll('#messages li.msg')].map(li => ({
              action: li.classList.contains('action'),
              line: li.querySelector('.nick').textContent + ' ' + li.querySelector('.text').textContent,
            }))
            """);
        Assert.Equal([(true, "* bob waves"), (false, "bob plain words")],
            seen.EnumerateArray().Select(m => (m.GetProperty("action").GetBoolean(), m.GetProperty("line").GetString())));

        await page.TypeLineAsync("/clear");

        await page.Page.WaitForFunctionAsync("() => document.querySelectorAll('#messages li.msg').length === 0",
            null, new PageWaitForFunctionOptions { Timeout = 10_000 });
        Assert.Equal(2, _web.Chat.RecentMessages("lobby").Count);   // the chat keeps them; nothing was sent
        Assert.Empty(_web.Network.Published);
        Assert.Empty(page.Errors);
    }
}
