using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>
/// Under a locale whose calendar is not the Gregorian one (Thai Buddhist, Saudi Umm al-Qura) every
/// machine-readable time is still ISO 8601 in the invariant culture: headless events, the web
/// page's JSON, `history` (JSON and plain) and the log.
/// </summary>
public sealed class LocaleTests
{
    private const string IsoFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
    private const string Greeting = "สวัสดี مرحبا";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory(Timeout = 120_000)]
    [InlineData("th-TH", "th_TH.UTF-8")]
    [InlineData("ar-SA", "ar_SA.UTF-8")]
    public async Task MachineReadableTimes_AreIso8601_UnderTheLocale(string culture, string posixLocale)
    {
        Dictionary<string, string> environment = new()
        {
            ["LANG"] = posixLocale,
            ["LC_ALL"] = posixLocale,
            ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "false",
        };
        string dataDirectory = Directory.CreateTempSubdirectory("echo-cli-locale-").FullName;
        try
        {
            string log = Path.Combine(dataDirectory, "echo.log");
            DateTimeOffset before = DateTimeOffset.UtcNow;
            await using (EchoChatProcess node = await EchoChatProcess.StartAsync("somchai", ["--web", "--log-file", log], Ct,
                             dataDirectory: dataDirectory, environment: environment))
            {
                JsonElement web = await node.NextAsync(e => e.GetProperty("type").GetString() == "web", TimeSpan.FromSeconds(20), Ct);
                await node.SendLineAsync(Greeting);
                JsonElement message = await node.MessageAsync(Greeting, Ct);
                AssertIsoNow(message.GetProperty("ts").GetString(), before, "headless message");

                JsonElement snapshot = await WebSnapshotAsync(new Uri(web.GetProperty("url").GetString()!));
                JsonElement shown = Assert.Single(snapshot.GetProperty("messages").EnumerateArray(),
                    m => m.GetProperty("text").GetString() == Greeting);
                AssertIsoNow(shown.GetProperty("ts").GetString(), before, "web snapshot message");
            }

            // The process really ran under the locale: it says so in its log's first line.
            string[] lines = await File.ReadAllLinesAsync(log, Ct);
            Assert.Contains($"(culture {culture}, UI culture {culture})", lines[0]);
            foreach (string line in lines.Where(l => l.Length > 24 && char.IsAsciiDigit(l[0])))
                AssertIsoNow(line[..24], before, "log line");

            (int exit, string json, string error) = await EchoChatProcess.RunWithOutputAsync(
                ["history", "--json", "--data-dir", dataDirectory], Ct, environment);
            Assert.True(exit == 0, error);
            JsonElement exported = JsonDocument.Parse(Assert.Single(json.Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement;
            AssertIsoNow(exported.GetProperty("ts").GetString(), before, "history --json");

            (exit, string plain, error) = await EchoChatProcess.RunWithOutputAsync(["history", "--data-dir", dataDirectory], Ct, environment);
            Assert.True(exit == 0, error);
            AssertIsoNow(Assert.Single(plain.Split('\n', StringSplitOptions.RemoveEmptyEntries))[..24], before, "history");
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    /// <summary><paramref name="text"/> is exactly <see cref="IsoFormat"/> and a time of this test, not another calendar's year.</summary>
    private static void AssertIsoNow(string? text, DateTimeOffset before, string what)
    {
        Assert.True(DateTimeOffset.TryParseExact(text, IsoFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal,
            out DateTimeOffset time), $"{what}: \"{text}\" is not {IsoFormat}");
        Assert.True(time >= before.AddSeconds(-1) && time <= DateTimeOffset.UtcNow.AddSeconds(1),
            $"{what}: {text} is not the time of this test ({before:O})");
    }

    /// <summary>Signs in to the web page with the URL's token and returns the WebSocket's first message, the snapshot.</summary>
    private static async Task<JsonElement> WebSnapshotAsync(Uri url)
    {
        using HttpClient client = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, UseProxy = false });
        using HttpResponseMessage signIn = await client.GetAsync(url, Ct);
        Assert.Equal(HttpStatusCode.SeeOther, signIn.StatusCode);
        string cookie = signIn.Headers.GetValues("Set-Cookie").Single();
        using ClientWebSocket socket = new();
        socket.Options.SetRequestHeader("Cookie", cookie[..cookie.IndexOf(';')]);
        socket.Options.SetRequestHeader("Origin", $"http://{url.Host}:{url.Port}");
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(new Uri($"ws://{url.Host}:{url.Port}/ws"), limit.Token);
        using MemoryStream message = new();
        byte[] buffer = new byte[64 * 1024];
        while (true)
        {
            WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, limit.Token);
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            message.Write(buffer, 0, result.Count);
            if (!result.EndOfMessage)
                continue;
            JsonElement json = JsonDocument.Parse(Encoding.UTF8.GetString(message.ToArray())).RootElement.Clone();
            if (json.GetProperty("type").GetString() == "snapshot")
                return json;
            message.SetLength(0);
        }
    }
}
