using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;

namespace Echo.Web.Tests;

/// <summary>Connections without a session (docs/LIMITS.md, L-web-unauthenticated): a local process cannot keep the page out.</summary>
public sealed class WebConnectionLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static HttpClient FreshClient(int port) =>
        new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, UseProxy = false })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}/"),
            Timeout = TimeSpan.FromSeconds(5),
        };

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(10));
        while (!condition())
            await Task.Delay(20, bound.Token);
    }

    [Fact(Timeout = 60_000)]
    public async Task SixtyFourUnauthenticatedSockets_ThePageWithItsCookieStillLoads_AndItsWebSocketOpens()
    {
        await using TestWebChat web = await TestWebChat.StartAsync(Ct);
        string cookie = await web.SignInAsync(Ct);
        List<TcpClient> hostile = [];
        try
        {
            for (int i = 0; i < 64; i++)
            {
                TcpClient attacker = new();
                hostile.Add(attacker);
                await attacker.ConnectAsync(IPAddress.Loopback, web.Port, Ct);
                if (i % 2 == 0)   // half of them start a request and never finish its headers
                    await attacker.GetStream().WriteAsync("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"u8.ToArray(), Ct);
            }
            await WaitUntilAsync(() => web.Server.Gate.PushedOut >= 64 - 16);   // the oldest sockets were pushed out
            Assert.InRange(web.Server.Gate.Unauthenticated, 0, 16);

            // A new connection, as a browser opening the page would make.
            using HttpClient browser = FreshClient(web.Port);
            using HttpRequestMessage request = new(HttpMethod.Get, "/");
            request.Headers.Add("Cookie", cookie);
            using HttpResponseMessage page = await browser.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            using ClientWebSocket socket = await web.OpenSocketAsync(cookie, web.Origin, Ct);
            Assert.Equal(WebSocketState.Open, socket.State);
        }
        finally
        {
            foreach (TcpClient attacker in hostile)
                attacker.Dispose();
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task ASocketThatNeverSignsIn_IsClosedAfterItsLifetime()
    {
        await using TestWebChat web = await TestWebChat.StartAsync(Ct, new WebChatOptions { UnauthenticatedLifetime = TimeSpan.FromSeconds(1) });
        using TcpClient idle = new();
        await idle.ConnectAsync(IPAddress.Loopback, web.Port, Ct);
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(10));
        byte[] buffer = new byte[256];
        int read;
        try
        {
            read = await idle.GetStream().ReadAsync(buffer, bound.Token);
        }
        catch (IOException)
        {
            read = 0;   // reset rather than closed: closed all the same
        }
        Assert.Equal(0, read);
        Assert.Equal(1, web.Server.Gate.Expired);
    }

    [Fact(Timeout = 10_000)]
    public async Task AWebSocket_NeedsTheSessionCookie_TheTokenAsABearerIsNotEnough()
    {
        await using TestWebChat web = await TestWebChat.StartAsync(Ct);
        using ClientWebSocket socket = new();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.SetRequestHeader("Authorization", "Bearer " + web.Server.Token);
        socket.Options.SetRequestHeader("Origin", web.Origin);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri($"ws://127.0.0.1:{web.Port}/ws"), Ct));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);
    }
}
