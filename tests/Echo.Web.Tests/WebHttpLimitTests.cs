using System.Net;
using System.Text;

namespace Echo.Web.Tests;

/// <summary>The web API's HTTP bounds (docs/LIMITS.md, L-web-http): request headers and JSON depth.</summary>
public sealed class WebHttpLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<HttpStatusCode> GetWithPaddingAsync(int port, int padding)
    {
        using HttpClient client = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, UseProxy = false })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}/"),
            Timeout = TimeSpan.FromSeconds(10),
        };
        using HttpRequestMessage request = new(HttpMethod.Get, "/");
        request.Headers.Add("X-Pad", new string('p', padding));
        using HttpResponseMessage response = await client.SendAsync(request, Ct);
        return response.StatusCode;
    }

    [Fact(Timeout = 30_000)]
    public async Task Headers_UnderSixteenKiB_AreRead_OverItGet431()
    {
        await using TestWebChat web = await TestWebChat.StartAsync(Ct);

        Assert.NotEqual(HttpStatusCode.RequestHeaderFieldsTooLarge, await GetWithPaddingAsync(web.Port, 15 * 1024));
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, await GetWithPaddingAsync(web.Port, 16 * 1024 + 1));
    }

    [Fact]
    public void Json_FourLevelsDeep_IsRead_FiveAreRefused()
    {
        WebRequest request = WebRequest.Parse(Encoding.UTF8.GetBytes("""{"type":"line","text":"hi","a":{"b":{"c":{}}}}"""));
        Assert.Equal(new WebRequest.Line("hi"), request);

        FormatException error = Assert.Throws<FormatException>(() =>
            WebRequest.Parse(Encoding.UTF8.GetBytes("""{"type":"line","text":"hi","a":{"b":{"c":{"d":{}}}}}""")));
        Assert.Contains("must be JSON", error.Message);
    }
}
