using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>A `/connect` to a peer that never answers does not hold up the lines typed after it.</summary>
public sealed class HeadlessConnectTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 90_000)]
    public async Task ConnectToASilentPeer_LaterLinesRunAtOnce_TheDialReportsLater()
    {
        // Accepts TCP connections and never says a word: the dial waits for its handshake timeout.
        using TcpListener silent = new(IPAddress.Loopback, 0);
        silent.Start();
        int port = ((IPEndPoint)silent.LocalEndpoint).Port;
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);

        await alice.SendLineAsync($"/connect /ip4/127.0.0.1/tcp/{port}");
        using Socket accepted = await silent.AcceptSocketAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await alice.SendLineAsync("/join side");
        await alice.SendLineAsync("said while dialing");

        JsonElement message = await alice.NextAsync(e => e.GetProperty("type").GetString() is "message" or "error",
            TimeSpan.FromSeconds(5), Ct);
        Assert.Equal("message", message.GetProperty("type").GetString());
        Assert.Equal("said while dialing", message.GetProperty("text").GetString());
        Assert.Equal("side", message.GetProperty("room").GetString());

        // The dial still ends with its own answer.
        JsonElement failed = await alice.NextAsync(e => e.GetProperty("type").GetString() == "error", TimeSpan.FromSeconds(60), Ct);
        Assert.Contains($"/tcp/{port}", failed.GetProperty("message").GetString());
    }
}
