using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>
/// Rule W-1 of docs/LIMITS.md from another host: a node serving `--web` on its default loopback address,
/// in one namespace of a two-host LAN, is not reachable from the other host at its LAN address;
/// with `--web 0.0.0.0:0 --web-allow-remote` the same connection is answered (and still needs the token).
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class WebNamespaceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task TheDefaultWebAddress_RefusesAnotherHost_ARemoteOneAnswersItWith401()
    {
        await using NetworkNamespacePair lan = await NetworkNamespacePair.CreateAsync(Ct);
        string lanListen = $"/ip4/{NetworkNamespacePair.FirstAddress}/tcp/0";
        await using EchoChatProcess local = await EchoChatProcess.StartAsync("alice", ["--web"], Ct,
            networkNamespace: lan.First, listen: lanListen);
        await using EchoChatProcess remote = await EchoChatProcess.StartAsync("bob", ["--web", "0.0.0.0:0", "--web-allow-remote"], Ct,
            networkNamespace: lan.First, listen: lanListen);
        int localPort = await WebPortAsync(local);
        int remotePort = await WebPortAsync(remote);

        // On its own host the loopback page answers (so the port is right)...
        Assert.Equal("HTTP/1.1 401 Unauthorized", await StatusLineAsync(lan.First, IPAddress.Loopback, localPort));
        // ...but the other host gets no connection at all: 0 bytes served.
        SocketException refused = await Assert.ThrowsAsync<SocketException>(
            () => StatusLineAsync(lan.Second, IPAddress.Parse(NetworkNamespacePair.FirstAddress), localPort));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        // Allowed explicitly, the other host reaches it, and without the token it is still refused.
        Assert.Equal("HTTP/1.1 401 Unauthorized",
            await StatusLineAsync(lan.Second, IPAddress.Parse(NetworkNamespacePair.FirstAddress), remotePort));
    }

    private static async Task<int> WebPortAsync(EchoChatProcess node)
    {
        JsonElement web = await node.NextAsync(e => e.GetProperty("type").GetString() == "web", TimeSpan.FromSeconds(10), Ct);
        return new Uri(web.GetProperty("url").GetString()!).Port;
    }

    /// <summary>Connects from inside <paramref name="netns"/> and returns the first line of the answer to a token-less GET.</summary>
    private static async Task<string> StatusLineAsync(string netns, IPAddress address, int port)
    {
        using Socket socket = NamespaceSockets.Create(netns, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(new IPEndPoint(address, port), limit.Token);
        await using NetworkStream stream = new(socket);
        byte[] request = Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {address}:{port}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(request, limit.Token);
        using StreamReader reader = new(stream, Encoding.ASCII);
        return await reader.ReadLineAsync(limit.Token) ?? "";
    }
}
