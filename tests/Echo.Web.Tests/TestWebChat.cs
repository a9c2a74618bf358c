using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Echo.Core;
using Echo.Core.Files;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Web.Tests;

/// <summary>
/// A chat over <see cref="FakeChatNetwork"/> with its <see cref="WebChatServer"/> on 127.0.0.1:0,
/// and an <see cref="HttpClient"/> that keeps no cookies and follows no redirects, so every test
/// says exactly what it sends.
/// </summary>
internal sealed class TestWebChat : IAsyncDisposable
{
    private TestWebChat(FakeChatNetwork network, ChatManager chat, WebChatServer server)
    {
        Network = network;
        Chat = chat;
        Server = server;
        Client = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, UseProxy = false })
        {
            BaseAddress = server.BaseAddress,
            Timeout = TimeSpan.FromSeconds(10),
        };
    }

    public FakeChatNetwork Network { get; }

    /// <summary>The direct side (messages, files), when started with <see cref="StartDirectAsync"/>.</summary>
    public FakeDirectNetwork? Direct { get; private init; }

    /// <summary>Where <see cref="StartDirectAsync"/> keeps downloads and file state; deleted on dispose.</summary>
    public string? FilesRoot { get; private init; }

    public ChatManager Chat { get; }

    public WebChatServer Server { get; }

    public HttpClient Client { get; }

    public int Port => Server.EndPoint.Port;

    /// <summary>The page's own origin, as a browser sends it.</summary>
    public string Origin => $"http://127.0.0.1:{Port}";

    public static async Task<TestWebChat> StartAsync(CancellationToken cancellationToken, WebChatOptions? options = null)
    {
        FakeChatNetwork network = new();
        ChatManager chat = new(network, new ChatOptions { Nick = "alice" }, NullLogger<ChatManager>.Instance);
        await chat.StartAsync(cancellationToken);
        WebChatServer server = await WebChatServer.StartAsync(chat, options ?? new WebChatOptions(), NullLoggerFactory.Instance,
            cancellationToken);
        return new TestWebChat(network, chat, server);
    }

    /// <summary>
    /// The same with direct messages and file sharing (over <see cref="FakeDirectNetwork"/>, downloads in
    /// a temporary folder) and, when given, a message store the chat loads its rooms' history from.
    /// </summary>
    public static async Task<TestWebChat> StartDirectAsync(CancellationToken cancellationToken, IMessageStore? store = null)
    {
        FakeDirectNetwork direct = new();
        string root = Directory.CreateTempSubdirectory("echo-web-files-").FullName;
        ChatManager chat = new(direct, new ChatOptions
        {
            Nick = "alice",
            Files = new FileSharingOptions
            {
                DownloadsDirectory = Path.Combine(root, "downloads"),
                StateDirectory = Path.Combine(root, "state"),
                ProgressInterval = TimeSpan.Zero,
            },
        }, NullLogger<ChatManager>.Instance, store);
        await chat.StartAsync(cancellationToken);
        WebChatServer server = await WebChatServer.StartAsync(chat, new WebChatOptions(), NullLoggerFactory.Instance, cancellationToken);
        return new TestWebChat(direct.Chat, chat, server) { Direct = direct, FilesRoot = root };
    }

    /// <summary>A peer connects (and can be sent direct messages and files, with <see cref="StartDirectAsync"/>).</summary>
    public void PeerConnects(string peerId)
    {
        Direct?.Connected[peerId] = true;
        Network.Inject(new PeerJoined(new Echo.Core.Peers.PeerInfo(peerId, "/ip4/127.0.0.1/tcp/4002/p2p/" + peerId,
            Echo.Core.Peers.PeerSource.Manual, DateTimeOffset.UtcNow)));
    }

    /// <summary>Opens the URL with the token and returns the session cookie as a Cookie header value.</summary>
    public async Task<string> SignInAsync(CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await Client.GetAsync(Server.Url, cancellationToken);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        string setCookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        return setCookie[..setCookie.IndexOf(';')];
    }

    public async Task<HttpResponseMessage> GetAsync(string path, string? cookie, CancellationToken cancellationToken, string? host = null)
    {
        using HttpRequestMessage request = new(HttpMethod.Get, path);
        if (cookie is not null)
            request.Headers.Add("Cookie", cookie);
        if (host is not null)
            request.Headers.Host = host;
        return await Client.SendAsync(request, cancellationToken);
    }

    /// <summary>Opens the page's WebSocket with the given cookie and Origin (null: none sent).</summary>
    public async Task<ClientWebSocket> OpenSocketAsync(string? cookie, string? origin, CancellationToken cancellationToken)
    {
        ClientWebSocket socket = new();
        socket.Options.CollectHttpResponseDetails = true;
        if (cookie is not null)
            socket.Options.SetRequestHeader("Cookie", cookie);
        if (origin is not null)
            socket.Options.SetRequestHeader("Origin", origin);
        try
        {
            await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{Port}/ws"), cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The HTTP status a refused WebSocket upgrade got.</summary>
    public async Task<HttpStatusCode> RefusedSocketStatusAsync(string? cookie, string? origin, CancellationToken cancellationToken)
    {
        using ClientWebSocket socket = new();
        socket.Options.CollectHttpResponseDetails = true;
        if (cookie is not null)
            socket.Options.SetRequestHeader("Cookie", cookie);
        if (origin is not null)
            socket.Options.SetRequestHeader("Origin", origin);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new Uri($"ws://127.0.0.1:{Port}/ws"), cancellationToken));
        return socket.HttpStatusCode;
    }

    public static async Task SendAsync(ClientWebSocket socket, object request, CancellationToken cancellationToken) =>
        await socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(request), WebSocketMessageType.Text, true, cancellationToken);

    /// <summary>The next message on the socket as JSON, or null when the server closed it.</summary>
    public static async Task<JsonElement?> ReceiveAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        using MemoryStream message = new();
        byte[] buffer = new byte[16 * 1024];
        while (true)
        {
            WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
                return null;
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
                return JsonDocument.Parse(Encoding.UTF8.GetString(message.ToArray())).RootElement.Clone();
        }
    }

    /// <summary>Receives until an event of <paramref name="type"/> matching <paramref name="where"/> (5 s).</summary>
    public static async Task<JsonElement> NextAsync(ClientWebSocket socket, string type, CancellationToken cancellationToken,
        Func<JsonElement, bool>? where = null)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(5));
        while (true)
        {
            JsonElement next = await ReceiveAsync(socket, limit.Token) ?? throw new InvalidOperationException("the server closed the socket");
            if (next.GetProperty("type").GetString() == type && (where is null || where(next)))
                return next;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        await Chat.DisposeAsync();
        if (FilesRoot is not null)
            Directory.Delete(FilesRoot, recursive: true);
    }
}
