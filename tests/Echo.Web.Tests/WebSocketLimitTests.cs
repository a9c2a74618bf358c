using System.Net;
using System.Net.WebSockets;

namespace Echo.Web.Tests;

/// <summary>WebSockets open at once (docs/LIMITS.md, L-web-sockets): sixteen pages, a seventeenth is told 503.</summary>
public sealed class WebSocketLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task SixteenSocketsOpen_TheSeventeenthGets503()
    {
        Assert.Equal(16, new WebChatOptions().MaxWebSockets);
        await using TestWebChat web = await TestWebChat.StartAsync(Ct);
        string cookie = await web.SignInAsync(Ct);
        List<ClientWebSocket> open = [];
        try
        {
            for (int i = 0; i < 16; i++)
                open.Add(await web.OpenSocketAsync(cookie, web.Origin, Ct));
            Assert.All(open, s => Assert.Equal(WebSocketState.Open, s.State));

            using ClientWebSocket extra = new();
            extra.Options.CollectHttpResponseDetails = true;
            extra.Options.SetRequestHeader("Cookie", cookie);
            extra.Options.SetRequestHeader("Origin", web.Origin);
            await Assert.ThrowsAsync<WebSocketException>(() => extra.ConnectAsync(new Uri($"ws://127.0.0.1:{web.Port}/ws"), Ct));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, extra.HttpStatusCode);
        }
        finally
        {
            foreach (ClientWebSocket socket in open)
                socket.Dispose();
        }
    }
}
