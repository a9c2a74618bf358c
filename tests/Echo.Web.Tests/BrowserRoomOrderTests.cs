using System.Text.Json;
using Echo.Core.Commands;
using Microsoft.Playwright;

namespace Echo.Web.Tests;

/// <summary>The page's room list follows /move, typed in the page or in the other face, without a reload.</summary>
public sealed class BrowserRoomOrderTests(BrowserFixture browser) : IAsyncLifetime
{
    private TestWebChat _web = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _web = await TestWebChat.StartAsync(Ct);

    public async ValueTask DisposeAsync() => await _web.DisposeAsync();

    [Fact(Timeout = 60_000)]
    public async Task MoveInThePageOrInTheOtherFace_ReordersTheOpenPagesRoomList()
    {
        await _web.Chat.JoinAsync("ops", Ct);
        await _web.Chat.JoinAsync("dev", Ct);
        await using BrowserPage page = await browser.NewPageAsync();
        await page.OpenChatAsync(_web.Server.Url);
        await WaitForOrderAsync(page, "lobby,ops,dev");

        await page.TypeLineAsync("/move dev 1");   // the current room, typed in the page
        await WaitForOrderAsync(page, "dev,lobby,ops");

        // As the terminal's /move does: through the chat, and the open page follows.
        await _web.Chat.RunAsync(CommandParser.Parse("/move lobby 3"), Ct);
        await WaitForOrderAsync(page, "dev,ops,lobby");
        Assert.Equal(["dev", "ops", "lobby"], _web.Chat.Rooms);
        Assert.Empty(page.Errors);
    }

    private static async Task WaitForOrderAsync(BrowserPage page, string order)
    {
        try
        {
            await page.Page.WaitForFunctionAsync("order => [...document.querySelectorAll('#rooms li.room')].map(li => li.dataset.room).join(',') === order",
                order, new PageWaitForFunctionOptions { Timeout = 10_000 });
        }
        catch (TimeoutException)
        {
            JsonElement shown = await page.Page.EvaluateAsync<JsonElement>("() => [...document.querySelectorAll('#rooms li.room')].map(li => li.dataset.room)");
            Assert.Fail($"rooms shown {shown}, expected {order}");
        }
    }
}
