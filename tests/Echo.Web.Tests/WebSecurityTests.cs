using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Echo.Web.Tests;

/// <summary>Rules W-1 to W-5 of docs/LIMITS.md against the in-process server, over real HTTP on 127.0.0.1.</summary>
public sealed class WebSecurityTests : IAsyncLifetime
{
    private TestWebChat _web = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _web = await TestWebChat.StartAsync(Ct);

    public async ValueTask DisposeAsync() => await _web.DisposeAsync();

    // ---- W-1: bind address

    [Fact(Timeout = 10_000)]
    public async Task W1_ListensOnLoopbackOnly_ANonLoopbackAddressOfThisMachineIsRefused()
    {
        Assert.True(IPAddress.IsLoopback(_web.Server.EndPoint.Address));
        IPAddress? outside = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        if (outside is null)
            Assert.Skip("this machine has no non-loopback IPv4 address to try");
        using Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketException refused = await Assert.ThrowsAsync<SocketException>(
            async () => await socket.ConnectAsync(new IPEndPoint(outside, _web.Port), Ct));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public void W1_ANonLoopbackAddressNeedsToBeAllowed()
    {
        WebChatOptions remote = new() { EndPoint = new IPEndPoint(IPAddress.Any, 0) };
        Assert.Contains("--web-allow-remote", Assert.Throws<ArgumentException>(remote.Validate).Message);
        (remote with { AllowRemote = true }).Validate();
        new WebChatOptions { EndPoint = new IPEndPoint(IPAddress.IPv6Loopback, 0) }.Validate();
        Assert.Throws<ArgumentException>(new WebChatOptions { EndPoint = new IPEndPoint(IPAddress.IPv6Any, 0) }.Validate);
    }

    // ---- W-2: DNS rebinding (Host check)

    [Theory(Timeout = 10_000)]
    [InlineData("localhost:{port}", true)]
    [InlineData("LOCALHOST:{port}", true)]
    [InlineData("127.0.0.1:{port}", true)]
    [InlineData("[::1]:{port}", true)]
    [InlineData("example.com", false)]
    [InlineData("example.com:{port}", false)]
    [InlineData("127.0.0.1.evil.tld:{port}", false)]
    [InlineData("localhost.evil.tld:{port}", false)]
    [InlineData("evil.localhost:{port}", false)]
    [InlineData("localhost", false)]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.0.0.1:1", false)]
    [InlineData("127.1:{port}", false)]
    [InlineData("2130706433:{port}", false)]
    [InlineData("0x7f.0.0.1:{port}", false)]
    [InlineData("[::ffff:7f00:1]:{port}", false)]
    [InlineData("192.168.1.10:{port}", false)]
    public async Task W2_OnlyLoopbackHostNamesWithOurPort_AreServed_EvenWithASession(string host, bool served)
    {
        string cookie = await _web.SignInAsync(Ct);
        using HttpResponseMessage response = await _web.GetAsync("/", cookie, Ct, host.Replace("{port}", _web.Port.ToString(CultureInfo.InvariantCulture)));
        Assert.Equal(served ? HttpStatusCode.OK : HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(served, (await response.Content.ReadAsStringAsync(Ct)).Contains("<html"));
    }

    [Fact(Timeout = 10_000)]
    public async Task W2_TheTokenIsNotTakenUnderAForeignHost()
    {
        using HttpRequestMessage request = new(HttpMethod.Get, _web.Server.Url);
        request.Headers.Host = "example.com";
        using HttpResponseMessage response = await _web.Client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    // ---- W-3: authentication

    [Theory(Timeout = 10_000)]
    [InlineData("/")]
    [InlineData("/index.html")]
    [InlineData("/app.js")]
    [InlineData("/app.css")]
    [InlineData("/api/state")]
    [InlineData("/ws")]
    [InlineData("/nothing-here")]
    public async Task W3_WithoutASession_EveryPathIs401(string path)
    {
        using HttpResponseMessage response = await _web.GetAsync(path, null, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.DoesNotContain(_web.Server.Token, await response.Content.ReadAsStringAsync(Ct));
    }

    [Fact(Timeout = 10_000)]
    public async Task W3_WebSocketWithoutASession_Is401()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, await _web.RefusedSocketStatusAsync(null, _web.Origin, Ct));
        Assert.Equal(HttpStatusCode.Unauthorized,
            await _web.RefusedSocketStatusAsync($"echo-session-{_web.Port}=forged", _web.Origin, Ct));
    }

    [Theory(Timeout = 10_000)]
    [InlineData("")]
    [InlineData("wrong")]
    [InlineData("{token}x")]
    [InlineData("{token-1}")]
    public async Task W3_AWrongToken_Is401AndOpensNoSession(string token)
    {
        string real = _web.Server.Token;
        string candidate = token.Replace("{token-1}", real[..^1]).Replace("{token}", real);
        using HttpResponseMessage response = await _web.GetAsync("/?token=" + Uri.EscapeDataString(candidate), null, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact(Timeout = 10_000)]
    public async Task W3_TheTokenOpensAnHttpOnlyStrictSession_AndLeavesTheAddressBar()
    {
        using HttpResponseMessage response = await _web.Client.GetAsync(_web.Server.Url, Ct);
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal("/", response.Headers.Location?.OriginalString);
        string setCookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith($"echo-session-{_web.Port}=", setCookie);
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("expires", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(_web.Server.Token, setCookie);

        string cookie = setCookie[..setCookie.IndexOf(';')];
        foreach (string path in new[] { "/", "/app.js", "/app.css", "/favicon.svg", "/api/state" })
        {
            using HttpResponseMessage page = await _web.GetAsync(path, cookie, Ct);
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }
    }

    [Fact(Timeout = 10_000)]
    public async Task W3_TheTokenHasAtLeast128RandomBits_AndDiffersPerStart()
    {
        await using TestWebChat other = await TestWebChat.StartAsync(Ct);
        Assert.NotEqual(_web.Server.Token, other.Server.Token);
        byte[] bits = System.Buffers.Text.Base64Url.DecodeFromChars(_web.Server.Token);
        Assert.True(bits.Length * 8 >= 128, $"{bits.Length * 8} bits");
        Assert.Throws<ArgumentException>(new WebChatOptions { Token = "short" }.Validate);
    }

    [Fact(Timeout = 10_000)]
    public async Task W3_TheTokenAsABearer_IsAccepted()
    {
        using HttpRequestMessage request = new(HttpMethod.Get, "/api/state");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _web.Server.Token);
        using HttpResponseMessage response = await _web.Client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using HttpRequestMessage wrong = new(HttpMethod.Get, "/api/state");
        wrong.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _web.Server.Token[..^2]);
        using HttpResponseMessage refused = await _web.Client.SendAsync(wrong, Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact(Timeout = 20_000)]
    public async Task W3_SessionsAreBounded_TheOldestIsForgotten()
    {
        await using TestWebChat web = await TestWebChat.StartAsync(Ct, new WebChatOptions { MaxSessions = 3 });
        List<string> cookies = [];
        for (int i = 0; i < 4; i++)
            cookies.Add(await web.SignInAsync(Ct));
        using HttpResponseMessage oldest = await web.GetAsync("/api/state", cookies[0], Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, oldest.StatusCode);
        foreach (string cookie in cookies.Skip(1))
        {
            using HttpResponseMessage kept = await web.GetAsync("/api/state", cookie, Ct);
            Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
        }
    }

    [Fact]
    public void W3_TokenCheck_TakesOnlyTheExactToken()
    {
        WebAccess access = new("0123456789abcdefghijklmnopqrstuv", 4);
        Assert.True(access.IsToken("0123456789abcdefghijklmnopqrstuv"));
        Assert.False(access.IsToken("0123456789abcdefghijklmnopqrstu"));
        Assert.False(access.IsToken("0123456789abcdefghijklmnopqrstuvw"));
        Assert.False(access.IsToken("0123456789ABCDEFGHIJKLMNOPQRSTUV"));
        Assert.False(access.IsToken(""));
        Assert.False(access.IsToken(null));
    }

    // ---- W-4: CSRF and cross-origin

    [Theory(Timeout = 10_000)]
    [InlineData("POST", "/")]
    [InlineData("POST", "/api/state")]
    [InlineData("PUT", "/api/state")]
    [InlineData("DELETE", "/api/state")]
    [InlineData("PATCH", "/ws")]
    [InlineData("OPTIONS", "/api/state")]
    public async Task W4_NoRequestButGetChangesAnything_EvenWithASession(string method, string path)
    {
        string cookie = await _web.SignInAsync(Ct);
        using HttpRequestMessage request = new(new HttpMethod(method), path);
        request.Headers.Add("Cookie", cookie);
        request.Headers.Add("Origin", "http://evil.example");
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Content = new StringContent("""{"type":"line","text":"/nick mallory"}""", System.Text.Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await _web.Client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.DoesNotContain(response.Headers, h => h.Key.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("alice", _web.Chat.Nick);
        Assert.Empty(_web.Network.Published);
    }

    [Fact(Timeout = 10_000)]
    public async Task W4_NoResponseCarriesCorsHeaders()
    {
        string cookie = await _web.SignInAsync(Ct);
        foreach (string path in new[] { "/", "/app.js", "/api/state", "/missing" })
        {
            using HttpRequestMessage request = new(HttpMethod.Get, path);
            request.Headers.Add("Cookie", cookie);
            request.Headers.Add("Origin", "http://evil.example");
            using HttpResponseMessage response = await _web.Client.SendAsync(request, Ct);
            Assert.DoesNotContain(response.Headers, h => h.Key.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase));
        }
    }

    [Theory(Timeout = 10_000)]
    [InlineData("http://evil.example")]
    [InlineData("http://127.0.0.1:1")]
    [InlineData("http://127.0.0.1.evil.tld:{port}")]
    [InlineData("https://127.0.0.1:{port}")]
    [InlineData("null")]
    [InlineData(null)]
    public async Task W4_AWebSocketFromAnotherOrigin_IsRefusedEvenWithASession(string? origin)
    {
        string cookie = await _web.SignInAsync(Ct);
        Assert.Equal(HttpStatusCode.Forbidden, await _web.RefusedSocketStatusAsync(cookie, origin?.Replace("{port}", _web.Port.ToString(CultureInfo.InvariantCulture)), Ct));
    }

    [Fact(Timeout = 10_000)]
    public async Task W4_AWebSocketFromThePageItself_IsAccepted()
    {
        string cookie = await _web.SignInAsync(Ct);
        using System.Net.WebSockets.ClientWebSocket socket = await _web.OpenSocketAsync(cookie, _web.Origin, Ct);
        Assert.Equal("snapshot", (await TestWebChat.NextAsync(socket, "snapshot", Ct)).GetProperty("type").GetString());
    }

    // ---- W-5: XSS (the page's side is in BrowserTests)

    [Theory(Timeout = 10_000)]
    [InlineData("/", true)]
    [InlineData("/app.js", true)]
    [InlineData("/api/state", true)]
    [InlineData("/missing", true)]
    [InlineData("/", false)]
    public async Task W5_EveryResponseCarriesTheContentSecurityPolicy(string path, bool signedIn)
    {
        string? cookie = signedIn ? await _web.SignInAsync(Ct) : null;
        using HttpResponseMessage response = await _web.GetAsync(path, cookie, Ct);
        string csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        Assert.StartsWith("default-src 'self'", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        Assert.DoesNotContain("unsafe-eval", csp);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
    }

    [Fact(Timeout = 10_000)]
    public async Task W5_ThePageRunsNoInlineCode_AndNeverParsesDataAsHtml()
    {
        string cookie = await _web.SignInAsync(Ct);
        using HttpResponseMessage html = await _web.GetAsync("/", cookie, Ct);
        string page = await html.Content.ReadAsStringAsync(Ct);
        Assert.Equal("text/html", html.Content.Headers.ContentType?.MediaType);
        Assert.Matches("<script src=\"/app.js\"", page);
        Assert.DoesNotMatch(@"<script(?![^>]*\bsrc=)", page);
        Assert.DoesNotMatch(@"\son[a-z]+\s*=", page);
        Assert.DoesNotContain("<style", page);
        Assert.DoesNotContain("style=", page);
        Assert.DoesNotMatch("(src|href)=\"(https?:)?//", page);

        using HttpResponseMessage js = await _web.GetAsync("/app.js", cookie, Ct);
        string script = await js.Content.ReadAsStringAsync(Ct);
        foreach (string sink in new[] { "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                     "createContextualFragment", "DOMParser", "srcdoc", ".href =", ".src =", "setAttribute('on", "javascript:" })
            Assert.DoesNotContain(sink, script);
    }
}
