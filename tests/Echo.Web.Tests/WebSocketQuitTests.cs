using System.Net.WebSockets;
using System.Text.Json;

namespace Echo.Web.Tests;

/// <summary>How the server closes a page's socket: after a quit with its own reason, so the page knows the node stopped.</summary>
public sealed class WebSocketQuitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<WebSocketCloseStatus?> ReadToCloseAsync(ClientWebSocket socket)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(10));
        while (await TestWebChat.ReceiveAsync(socket, limit.Token) is not null)
        {
        }
        return socket.CloseStatus;
    }

    [Fact(Timeout = 30_000)]
    public async Task AfterAQuit_TheSocketSaysTheNodeQuit()
    {
        await using TestWebChat web = await TestWebChat.StartAsync(Ct);
        string cookie = await web.SignInAsync(Ct);
        using ClientWebSocket socket = await web.OpenSocketAsync(cookie, web.Origin, Ct);
        await TestWebChat.NextAsync(socket, "snapshot", Ct);

        web.Chat.RequestQuit();

        JsonElement quit = await TestWebChat.NextAsync(socket, "quit", Ct);
        Assert.Equal("quit", quit.GetProperty("type").GetString());
        Assert.Equal(WebSocketCloseStatus.NormalClosure, await ReadToCloseAsync(socket));
        Assert.Equal(WebSocketSession.QuitReason, socket.CloseStatusDescription);
    }

    [Fact(Timeout = 30_000)]
    public async Task AServerThatStopsWithoutAQuit_SaysTheChatEnded()
    {
        await using TestWebChat web = await TestWebChat.StartAsync(Ct);
        string cookie = await web.SignInAsync(Ct);
        using ClientWebSocket socket = await web.OpenSocketAsync(cookie, web.Origin, Ct);
        await TestWebChat.NextAsync(socket, "snapshot", Ct);

        Task<WebSocketCloseStatus?> closed = ReadToCloseAsync(socket);
        await web.Server.DisposeAsync();

        Assert.Equal(WebSocketCloseStatus.NormalClosure, await closed);
        Assert.Equal("the chat ended", socket.CloseStatusDescription);
        Assert.False(web.Chat.QuitRequested.IsCancellationRequested);
    }
}
