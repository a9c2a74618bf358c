using System.Net;
using Echo.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Echo.Web;

/// <summary>
/// The chat in a browser: a small Kestrel server inside the node that serves one page and a
/// WebSocket to the same <see cref="ChatManager"/> the other faces use. Loopback only unless
/// <see cref="WebChatOptions.AllowRemote"/>; every request needs the session the access token in
/// <see cref="Url"/> opens (see <see cref="WebAccess"/>).
/// </summary>
public sealed class WebChatServer : IAsyncDisposable
{
    /// <summary>Sent with every response: only our own files run, nothing frames us, nothing leaks the URL.</summary>
    internal const string ContentSecurityPolicy =
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

    private readonly WebApplication _app;
    private readonly ChatManager _chat;
    private readonly WebChatOptions _options;
    private readonly WebAccess _access;
    private readonly StaticAssets _assets = new();
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private int _sockets;
    private int _disposed;

    private WebChatServer(WebApplication app, ChatManager chat, WebChatOptions options, WebAccess access, ILogger logger)
    {
        _app = app;
        _chat = chat;
        _options = options;
        _access = access;
        _logger = logger;
    }

    /// <summary>The cap on connections without a session, and what it closed.</summary>
    internal ConnectionGate Gate { get; private init; } = null!;

    /// <summary>The address served on (the real port when 0 was asked for).</summary>
    public IPEndPoint EndPoint { get; private set; } = WebChatOptions.DefaultEndPoint;

    /// <summary>The page without the token.</summary>
    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");

    /// <summary>The URL to open: the page with the access token, which it trades for a session cookie.</summary>
    public Uri Url => new(BaseAddress, "/?token=" + _access.Token);

    /// <summary>The access token.</summary>
    public string Token => _access.Token;

    /// <summary>True when other machines can reach it.</summary>
    public bool Remote => _access.Remote;

    /// <summary>
    /// Starts serving <paramref name="chat"/>. Throws <see cref="ArgumentException"/> for a remote
    /// address that was not allowed and <see cref="IOException"/> when the address is taken.
    /// </summary>
    public static async Task<WebChatServer> StartAsync(ChatManager chat, WebChatOptions options, ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        options.Validate();
        ConnectionGate gate = new(options.MaxUnauthenticatedConnections, options.UnauthenticatedLifetime, TimeProvider.System);
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "Echo.Web" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 0;
            kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            kestrel.Limits.MaxConcurrentConnections = 64;
            kestrel.Limits.RequestHeadersTimeout = options.HeadersTimeout;
            // Connections without a session are capped on their own (ConnectionGate): they cannot fill the 64.
            kestrel.Listen(options.EndPoint, listen => listen.Use(next => connection => gate.RunAsync(connection, next)));
        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(loggers));
        // ASP.NET Core's own per-request lines would drown the chat's log.
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        WebApplication app = builder.Build();
        WebAccess access = new(options.Token ?? WebAccess.NewSecret(), options.MaxSessions)
        {
            Remote = !IPAddress.IsLoopback(options.EndPoint.Address),
        };
        WebChatServer server = new(app, chat, options, access, loggers.CreateLogger("Echo.Web")) { Gate = gate };
        app.Use(server.GuardAsync);
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        app.Run(server.ServeAsync);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        int port = new Uri(address).Port;
        access.Port = port;
        server.EndPoint = new IPEndPoint(options.EndPoint.Address, port);
        server.BaseAddress = new Uri($"http://{WebChatOptions.Format(new IPEndPoint(Browsable(options.EndPoint.Address), port))}/");
        Log.Listening(server._logger, WebChatOptions.Format(server.EndPoint));
        if (access.Remote)
            Log.RemoteAccess(server._logger, WebChatOptions.Format(server.EndPoint));
        return server;
    }

    /// <summary>The address a browser on this machine uses for a listen address (the wildcard ones are not dialable).</summary>
    private static IPAddress Browsable(IPAddress address) =>
        address.Equals(IPAddress.Any) ? IPAddress.Loopback : address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : address;

    /// <summary>Runs first for every request: security headers, the Host check, the token exchange, authentication, GET only.</summary>
    private async Task GuardAsync(HttpContext context, RequestDelegate next)
    {
        HttpRequest request = context.Request;
        HttpResponse response = context.Response;
        IHeaderDictionary headers = response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";
        headers.CacheControl = "no-store";

        if (!_access.IsAllowedHost(request.Host))
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden, "this server answers only to localhost or its IP address (Host check)")
                .ConfigureAwait(false);
            return;
        }
        // Reading is all a plain request may do; what changes the chat goes over the WebSocket,
        // whose Origin is checked. No CORS headers are ever sent, so no other site can read an answer.
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden, "only GET; changes go over the page's WebSocket").ConfigureAwait(false);
            return;
        }
        if (request.Path == "/" && request.Query.TryGetValue("token", out StringValues token))
        {
            if (!_access.IsToken(token.Count == 1 ? token[0] : null))
            {
                await RefuseAsync(context, StatusCodes.Status401Unauthorized, "wrong token; open the URL echo-chat printed").ConfigureAwait(false);
                return;
            }
            _access.SetSessionCookie(response, _access.CreateSession());
            Gate.Authenticated(context.Connection.Id);
            Log.SessionStarted(_logger, context.Connection.RemoteIpAddress?.ToString() ?? "?");
            // Off the address bar and history: the token has done its work.
            response.StatusCode = StatusCodes.Status303SeeOther;
            headers.Location = "/";
            return;
        }
        if (!_access.IsAuthenticated(request))
        {
            await RefuseAsync(context, StatusCodes.Status401Unauthorized, "not signed in; open the URL with the token that echo-chat printed")
                .ConfigureAwait(false);
            return;
        }
        Gate.Authenticated(context.Connection.Id);
        await next(context).ConfigureAwait(false);
    }

    private async Task ServeAsync(HttpContext context)
    {
        string path = context.Request.Path.Value ?? "/";
        if (path == "/ws")
        {
            await ServeWebSocketAsync(context).ConfigureAwait(false);
            return;
        }
        if (path == "/api/state")
        {
            context.Response.ContentType = "application/json; charset=utf-8";
            byte[] snapshot = await WebJson.SnapshotAsync(_chat, context.RequestAborted).ConfigureAwait(false);
            await context.Response.Body.WriteAsync(snapshot, context.RequestAborted).ConfigureAwait(false);
            return;
        }
        if (!_assets.TryGet(path, out byte[] body, out string contentType))
        {
            await RefuseAsync(context, StatusCodes.Status404NotFound, "not found").ConfigureAwait(false);
            return;
        }
        context.Response.ContentType = contentType;
        context.Response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
            await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    private async Task ServeWebSocketAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await RefuseAsync(context, StatusCodes.Status400BadRequest, "a WebSocket upgrade is expected here").ConfigureAwait(false);
            return;
        }
        // Only the page opens the WebSocket: it needs the session cookie (the token as a bearer is
        // not enough; a script signs in with the token URL first).
        if (!_access.HasSession(context.Request))
        {
            await RefuseAsync(context, StatusCodes.Status401Unauthorized, "a WebSocket needs the session cookie").ConfigureAwait(false);
            return;
        }
        // A page of another site may open a WebSocket to us and the browser would send our cookie
        // along (SameSite does not cover every case): only our own page's Origin is accepted.
        if (!WebAccess.IsSameOrigin(context.Request))
        {
            await RefuseAsync(context, StatusCodes.Status403Forbidden, "cross-origin WebSocket").ConfigureAwait(false);
            return;
        }
        if (Interlocked.Increment(ref _sockets) > _options.MaxWebSockets)
        {
            Interlocked.Decrement(ref _sockets);
            await RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, "too many open pages").ConfigureAwait(false);
            return;
        }
        string remote = context.Connection.RemoteIpAddress?.ToString() ?? "?";
        try
        {
            using System.Net.WebSockets.WebSocket socket = await context.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
            Log.SocketOpened(_logger, remote);
            using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
            await WebSocketSession.RunAsync(socket, _chat, _options.MaxIncomingMessageBytes, _logger, stop.Token).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _sockets);
            Log.SocketClosed(_logger, remote);
        }
    }

    private async Task RefuseAsync(HttpContext context, int status, string reason)
    {
        Log.Refused(_logger, status, reason);
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync($"{status}: {reason}\n", context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Closes every page's WebSocket and stops listening.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
        Log.Stopped(_logger);
    }

    /// <summary>Hands ASP.NET Core's loggers to the chat's logger factory.</summary>
    private sealed class ForwardingLoggerProvider(ILoggerFactory loggers) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => loggers.CreateLogger(categoryName);

        public void Dispose()
        {
        }
    }
}
