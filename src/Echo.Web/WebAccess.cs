using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Echo.Web;

/// <summary>
/// Who may use the web UI. A random access token (in the URL echo-chat prints) is traded once for
/// a session cookie (HttpOnly, SameSite=Strict); every other request needs that cookie, or the token
/// as a bearer. Secrets are compared as SHA-256 digests in constant time, and only digests of
/// session ids are kept. Also the DNS-rebinding check on Host and the same-origin check on Origin.
/// </summary>
internal sealed class WebAccess
{
    private readonly byte[] _tokenDigest;
    private readonly int _maxSessions;
    private readonly Lock _gate = new();
    // Digests of live session ids, oldest first; a new session past the limit forgets the oldest.
    private readonly LinkedList<string> _sessionOrder = [];
    private readonly HashSet<string> _sessions = new(StringComparer.Ordinal);

    public WebAccess(string token, int maxSessions)
    {
        Token = token;
        _tokenDigest = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        _maxSessions = maxSessions;
    }

    /// <summary>The access token.</summary>
    public string Token { get; }

    /// <summary>The port served on; set once listening. Part of the cookie name, since cookies ignore ports.</summary>
    public int Port { get; set; }

    /// <summary>True when other machines may connect (the listen address is not loopback).</summary>
    public bool Remote { get; init; }

    /// <summary>The session cookie's name: one per port, so two nodes on one machine do not share a cookie jar entry.</summary>
    public string CookieName => $"echo-session-{Port}";

    /// <summary>A new random secret: 256 bits, base64url.</summary>
    public static string NewSecret() => System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    /// <summary>True when <paramref name="candidate"/> is the access token (constant time).</summary>
    public bool IsToken(string? candidate) =>
        candidate is not null
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(candidate)), _tokenDigest);

    /// <summary>Starts a session and returns its id, for the cookie.</summary>
    public string CreateSession()
    {
        string id = NewSecret();
        string digest = Digest(id);
        lock (_gate)
        {
            _sessions.Add(digest);
            _sessionOrder.AddLast(digest);
            while (_sessionOrder.Count > _maxSessions)
            {
                _sessions.Remove(_sessionOrder.First!.Value);
                _sessionOrder.RemoveFirst();
            }
        }
        return id;
    }

    /// <summary>True when the request carries a live session cookie or the token as a bearer.</summary>
    public bool IsAuthenticated(HttpRequest request) => HasSession(request) || HasBearerToken(request);

    /// <summary>True when the request carries the token in <c>Authorization: Bearer</c> (scripts; browsers never send it by themselves).</summary>
    public bool HasBearerToken(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        return header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && IsToken(header[7..].Trim());
    }

    /// <summary>True when the request carries a live session cookie.</summary>
    public bool HasSession(HttpRequest request)
    {
        if (!request.Cookies.TryGetValue(CookieName, out string? id) || id.Length > 100)
            return false;
        // The lookup is by digest, so its timing says nothing about the session id itself.
        string digest = Digest(id);
        lock (_gate)
            return _sessions.Contains(digest);
    }

    /// <summary>The session cookie for <paramref name="sessionId"/>: host-only, whole site, gone when the browser closes.</summary>
    public void SetSessionCookie(HttpResponse response, string sessionId) =>
        response.Headers.Append(HeaderNames.SetCookie, new SetCookieHeaderValue(CookieName, sessionId)
        {
            HttpOnly = true,
            SameSite = Microsoft.Net.Http.Headers.SameSiteMode.Strict,
            Path = "/",
        }.ToString());

    /// <summary>
    /// The DNS-rebinding check: a page on another name that resolves to us must not be served, so
    /// the Host header must be <c>localhost</c> or an IP address, with our port. IP addresses other
    /// than loopback are only accepted when other machines are allowed.
    /// </summary>
    public bool IsAllowedHost(HostString host)
    {
        if (!host.HasValue || host.Port is not { } port || port != Port)
            return false;
        string name = host.Host;
        if (name.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            return true;
        string literal = name.StartsWith('[') && name.EndsWith(']') ? name[1..^1] : name;
        if (literal.Contains(':') != name.StartsWith('[') || !IPAddress.TryParse(literal, out IPAddress? address))
            return false;
        // IPAddress.TryParse also takes "1" or "0x7f.1"; only the canonical forms a browser sends count.
        if (address.ToString() != literal)
            return false;
        return IPAddress.IsLoopback(address) || Remote;
    }

    /// <summary>True when the request's Origin is this server itself (what a browser sends for our own page).</summary>
    public static bool IsSameOrigin(HttpRequest request)
    {
        string? origin = request.Headers.Origin;
        return origin is not null && string.Equals(origin, $"http://{request.Host.Value}", StringComparison.OrdinalIgnoreCase);
    }

    private static string Digest(string secret) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
