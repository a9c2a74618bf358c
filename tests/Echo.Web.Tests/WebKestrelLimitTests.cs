using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Echo.Web.Tests;

/// <summary>
/// The web server's Kestrel bounds (docs/LIMITS.md, L-web-http): no request body, 64 connections,
/// and the time a request's headers may take.
/// </summary>
public sealed class WebKestrelLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<TcpClient> ConnectAsync(int port)
    {
        TcpClient client = new();
        await client.ConnectAsync(IPAddress.Loopback, port, Ct);
        return client;
    }

    /// <summary>Reads one response, its body included; returns its head, or null when the server closed (or reset) the connection first.</summary>
    private static async Task<string?> ReadHeadAsync(NetworkStream stream)
    {
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            string? head = await ReadUntilAsync(stream, "\r\n\r\n", bound.Token);
            if (head is null)
                return null;
            string[] lines = head.Split("\r\n");
            if (lines.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) is { } length)
            {
                byte[] body = new byte[int.Parse(length["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture)];
                await stream.ReadExactlyAsync(body, bound.Token);
            }
            else if (lines.Any(l => l.Equals("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)))
            {
                while (true)
                {
                    string size = await ReadUntilAsync(stream, "\r\n", bound.Token) ?? throw new IOException("the chunked body broke off");
                    int n = int.Parse(size.TrimEnd(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    byte[] chunk = new byte[n + 2];
                    await stream.ReadExactlyAsync(chunk, bound.Token);
                    if (n == 0)
                        break;
                }
            }
            return head;
        }
        catch (Exception e) when (e is IOException or EndOfStreamException)
        {
            return null;
        }
    }

    /// <summary>Reads up to and including <paramref name="end"/>; null at the end of the stream.</summary>
    private static async Task<string?> ReadUntilAsync(NetworkStream stream, string end, CancellationToken cancellationToken)
    {
        StringBuilder text = new();
        byte[] one = new byte[1];
        while (text.Length < end.Length || text.ToString(text.Length - end.Length, end.Length) != end)
        {
            if (await stream.ReadAsync(one, cancellationToken) == 0)
                return null;
            text.Append((char)one[0]);
        }
        return text.ToString();
    }

    private static byte[] Get(int port, string cookie, string extra = "") =>
        Encoding.ASCII.GetBytes($"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n{extra}\r\n");

    /// <summary>Signs in over a connection of its own that the server then closes; returns the session cookie.</summary>
    private static async Task<string> SignInAsync(TestWebChat web)
    {
        using TcpClient client = await ConnectAsync(web.Port);
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /?token={web.Server.Token} HTTP/1.1\r\nHost: 127.0.0.1:{web.Port}\r\nConnection: close\r\n\r\n"), Ct);
        string head = await ReadHeadAsync(client.GetStream()) ?? throw new IOException("no answer to the sign-in");
        string line = head.Split("\r\n").Single(l => l.StartsWith("Set-Cookie: ", StringComparison.OrdinalIgnoreCase));
        return line["Set-Cookie: ".Length..line.IndexOf(';', StringComparison.Ordinal)];
    }

    /// <summary>A new connection that sends a request with the cookie: its response head, or null when it was closed unanswered.</summary>
    private static async Task<(TcpClient Client, string? Head)> RequestAsync(TestWebChat web, string cookie)
    {
        TcpClient client = await ConnectAsync(web.Port);
        try
        {
            await client.GetStream().WriteAsync(Get(web.Port, cookie), Ct);
        }
        catch (IOException)
        {
            return (client, null);
        }
        return (client, await ReadHeadAsync(client.GetStream()));
    }

    [Fact(Timeout = 30_000)]
    public async Task Connections_SixtyFourAreServed_TheSixtyFifthIsClosed_AndOneIsServedAgainWhenOneLeaves()
    {
        await using TestWebChat web = await TestWebChat.StartAsync(Ct);
        string cookie = await SignInAsync(web);
        List<TcpClient> open = [];
        try
        {
            for (int i = 0; i < 64; i++)
            {
                (TcpClient client, string? head) = await RequestAsync(web, cookie);
                open.Add(client);
                Assert.True(head is not null, $"connection {i + 1} was not served");
            }
            (TcpClient over, string? refused) = await RequestAsync(web, cookie);
            over.Dispose();
            Assert.Null(refused);

            open[0].Dispose();
            open.RemoveAt(0);
            // The server sees the close a moment later; until then a new connection is still refused.
            using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            bound.CancelAfter(TimeSpan.FromSeconds(10));
            while (true)
            {
                (TcpClient again, string? head) = await RequestAsync(web, cookie);
                open.Add(again);
                if (head is not null)
                    break;
                Assert.False(bound.IsCancellationRequested, "no connection was served after one of the 64 left");
            }
        }
        finally
        {
            foreach (TcpClient client in open)
                client.Dispose();
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Body_OfNoBytesIsAccepted_OneByteClosesTheConnection()
    {
        await using TestWebChat web = await TestWebChat.StartAsync(Ct);
        string cookie = await SignInAsync(web);

        // Two requests on one connection: the first with an empty body keeps it open for the second.
        using (TcpClient empty = await ConnectAsync(web.Port))
        {
            await empty.GetStream().WriteAsync((byte[])[.. Get(web.Port, cookie, "Content-Length: 0\r\n"), .. Get(web.Port, cookie)], Ct);
            Assert.NotNull(await ReadHeadAsync(empty.GetStream()));
            Assert.NotNull(await ReadHeadAsync(empty.GetStream()));
        }

        // With a one-byte body the connection ends after the first request (its body is refused when
        // it is read, at the latest when Kestrel drains it): the second request gets nothing.
        using TcpClient body = await ConnectAsync(web.Port);
        await body.GetStream().WriteAsync((byte[])[.. Get(web.Port, cookie, "Content-Length: 1\r\n"), (byte)'x', .. Get(web.Port, cookie)], Ct);
        await ReadHeadAsync(body.GetStream());
        Assert.Null(await ReadHeadAsync(body.GetStream()));
    }

    [Fact(Timeout = 30_000)]
    public async Task HeadersTimeout_DefaultFiveSeconds_HeadersUnfinishedByTheTimeoutCloseTheConnection()
    {
        Assert.Equal(TimeSpan.FromSeconds(5), new WebChatOptions().HeadersTimeout);
        TimeSpan timeout = TimeSpan.FromSeconds(1);
        await using TestWebChat web = await TestWebChat.StartAsync(Ct, new WebChatOptions { HeadersTimeout = timeout });
        using TcpClient slow = await ConnectAsync(web.Port);
        Stopwatch elapsed = Stopwatch.StartNew();
        await slow.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: 127.0.0.1:{web.Port}\r\n"), Ct);

        string? answer = await ReadHeadAsync(slow.GetStream());
        Assert.True(answer is null || answer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), $"answered: {answer}");
        Assert.Null(await ReadHeadAsync(slow.GetStream()));
        // Kestrel checks on a one-second heartbeat; the connection's own lifetime (10 s) is far later.
        Assert.InRange(elapsed.Elapsed, timeout - TimeSpan.FromMilliseconds(50), timeout + TimeSpan.FromSeconds(2.5));
    }
}
