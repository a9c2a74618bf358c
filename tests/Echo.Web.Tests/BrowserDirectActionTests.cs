using System.Text.Json;
using Echo.Core.Direct;
using Echo.Core.Ports;
using Microsoft.Playwright;

namespace Echo.Web.Tests;

/// <summary>/me in a direct conversation, typed in the page and arriving from the peer, reads "* nick text".</summary>
public sealed class BrowserDirectActionTests(BrowserFixture browser)
{
    private const string Bob = "12D3KooWBob000000000000000000000000000000000000000";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task MeInADirectConversation_IsSentAsAnAction_AndBothActionsReadStarNickText()
    {
        await using TestWebChat web = await TestWebChat.StartDirectAsync(Ct);
        await using BrowserPage browserPage = await browser.NewPageAsync();
        IPage page = browserPage.Page;
        await browserPage.OpenChatAsync(web.Server.Url);
        web.PeerConnects(Bob);
        web.Network.Inject(new PeerNickAnnounced(Bob, "bob"));
        await page.Locator($"#peers li[data-peer-id='{Bob}']", new PageLocatorOptions { HasTextString = "bob" }).WaitForAsync();
        await page.Locator($"#peers li[data-peer-id='{Bob}']").ClickAsync();
        await page.Locator("#room-title", new PageLocatorOptions { HasTextString = "@bob" }).WaitForAsync();

        await browserPage.TypeLineAsync("/me nods");
        await page.Locator("#messages li.msg.dm.self.action").WaitForAsync();
        (string to, DirectEnvelope sent) = Assert.Single(web.Direct!.Sent);
        Assert.Equal((Bob, "nods", true), (to, sent.Text, sent.Action));
        Assert.Empty(web.Network.Published);

        web.Network.Inject(new DirectArrived(Bob, new DirectEnvelope(DirectIds.New(), "bob", DateTimeOffset.UtcNow, "grins", null) { Action = true }));
        web.Network.Inject(new DirectArrived(Bob, new DirectEnvelope(DirectIds.New(), "bob", DateTimeOffset.UtcNow, "plain words", null)));
        await browserPage.WaitForMessageAsync("plain words");
        JsonElement seen = await page.EvaluateAsync<JsonElement>("""
            () => [...document.querySelectorAll('#messages li.msg.dm')].map(li => ({
              action: li.classList.contains('action'),
              line: li.querySelector('.nick').textContent + ' ' + li.querySelector('.text').textContent,
            }))
            """);
        Assert.Equal([(true, "* alice nods"), (true, "* bob grins"), (false, "bob plain words")],
            seen.EnumerateArray().Select(m => (m.GetProperty("action").GetBoolean(), m.GetProperty("line").GetString())));
        Assert.Empty(browserPage.Errors);
    }
}
