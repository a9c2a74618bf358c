using System.Diagnostics;
using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>
/// Idempotent /connect and remembered peers between real `echo-chat --headless` processes on
/// 127.0.0.1: a second /connect keeps the connection, a self-dial is refused, and a peer that was
/// restarted or killed is reconnected without any /connect.
/// </summary>
[global::System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ReconnectEndToEndTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("echo-reconnect-test-");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _temp.Delete(recursive: true);

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_temp.FullName, name)).FullName;

    private static bool Is(JsonElement e, string type) => e.GetProperty("type").GetString() == type;

    private static string Text(JsonElement e, string property) => e.GetProperty(property).GetString()!;

    /// <summary>"/ip4/127.0.0.1/tcp/PORT" of an address that ends in /p2p/…</summary>
    private static string WithoutPeerId(string address) => address[..address.IndexOf("/p2p/", StringComparison.Ordinal)];

    private static bool IsPeer(JsonElement e, string change, string peerId) =>
        Is(e, "peer") && Text(e, "event") == change && Text(e, "peerId") == peerId;

    /// <summary>Waits (bounded) until <paramref name="path"/> exists and contains <paramref name="text"/>.</summary>
    private static async Task WaitForFileAsync(string path, string text)
    {
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(20));
        try
        {
            while (true)
            {
                try
                {
                    if (File.Exists(path) && (await File.ReadAllTextAsync(path, bound.Token)).Contains(text, StringComparison.Ordinal))
                        return;
                }
                catch (IOException)
                {
                    // replaced while we read it
                }
                await Task.Delay(50, bound.Token);
            }
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            Assert.Fail($"{path} did not mention {text} within 20 s");
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task ConnectTwice_WithoutPeerId_KeepsTheConnection_AndSaysAlreadyConnected()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", [], Ct);

        await bob.SendLineAsync("/connect " + WithoutPeerId(alice.Address));
        await bob.NextAsync(e => Is(e, "notice") && Text(e, "text") == $"connected to {alice.PeerId}", TimeSpan.FromSeconds(20), Ct);
        await alice.PeerEventAsync("connected", bob.PeerId, Ct);
        for (int i = 0; i < 3; i++)
        {
            await bob.SendLineAsync("/connect " + WithoutPeerId(alice.Address));
            await bob.NextAsync(e => Is(e, "notice") && Text(e, "text") == $"already connected to {alice.PeerId}", TimeSpan.FromSeconds(20), Ct);
        }
        await bob.SendLineAsync("/connect " + alice.Address);
        await bob.NextAsync(e => Is(e, "notice") && Text(e, "text") == $"already connected to {alice.PeerId}", TimeSpan.FromSeconds(20), Ct);

        // The connection is still the one both started with: a message goes through, and neither saw a disconnect.
        await bob.SendLineAsync("after the second connect");
        await alice.MessageAsync("after the second connect", Ct);
        Assert.DoesNotContain(alice.Drain(), e => IsPeer(e, "disconnected", bob.PeerId));
        Assert.DoesNotContain(bob.Drain(), e => IsPeer(e, "disconnected", alice.PeerId) || Is(e, "error"));
    }

    [Fact(Timeout = 120_000)]
    public async Task Connect_OwnAddressOrId_IsRefused()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);

        await alice.SendLineAsync("/connect " + WithoutPeerId(alice.Address));
        JsonElement byAddress = await alice.NextAsync(e => Is(e, "error"), TimeSpan.FromSeconds(20), Ct);
        Assert.EndsWith("that is our own address", Text(byAddress, "message"));
        await alice.SendLineAsync("/connect " + alice.Address);
        JsonElement byId = await alice.NextAsync(e => Is(e, "error"), TimeSpan.FromSeconds(20), Ct);
        Assert.EndsWith("that is our own peer id", Text(byId, "message"));
        await alice.SendLineAsync("/peers");
        Assert.Equal("no peers connected; /connect <multiaddr> to add one",
            Text(await alice.NextAsync(e => Is(e, "notice"), TimeSpan.FromSeconds(20), Ct), "text"));
    }

    [Fact(Timeout = 120_000)]
    public async Task ARestartedNode_ReconnectsToItsPeers_WithinTenSeconds_WithoutConnect()
    {
        string bobData = Folder("bob");
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        string bobId;
        await using (EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice.Address], Ct, dataDirectory: bobData))
        {
            bobId = bob.PeerId;
            await bob.PeerEventAsync("connected", alice.PeerId, Ct);
            await alice.PeerEventAsync("connected", bobId, Ct);
        }   // bob quits (stdin closed)
        await alice.PeerEventAsync("disconnected", bobId, Ct);

        await using EchoChatProcess again = await EchoChatProcess.StartAsync("bob", [], Ct, dataDirectory: bobData);
        Stopwatch sinceReady = Stopwatch.StartNew();
        JsonElement back = await again.NextAsync(e => IsPeer(e, "connected", alice.PeerId), TimeSpan.FromSeconds(10), Ct);

        Assert.True(sinceReady.Elapsed < TimeSpan.FromSeconds(10), $"reconnected after {sinceReady.Elapsed}");
        Assert.Equal("remembered", Text(back, "source"));
        await alice.PeerEventAsync("connected", again.PeerId, Ct);
        await again.SendLineAsync("back without /connect");
        await alice.MessageAsync("back without /connect", Ct);
    }

    [Fact(Timeout = 180_000)]
    public async Task AKilledPeer_IsReconnectedByTheOtherSide_WhenItIsBack()
    {
        string bobData = Folder("bob");
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice.Address], Ct, dataDirectory: bobData);
        string bobListen;
        try
        {
            bobListen = WithoutPeerId(bob.Address);
            await alice.PeerEventAsync("connected", bob.PeerId, Ct);
            // bob dialed alice, so alice knows where bob listens only from bob's identify: wait until
            // her peer book on disk has it (a peer killed before that cannot be redialed).
            await WaitForFileAsync(Path.Combine(alice.DataDirectory, "peers.json"), bobListen);
            bob.Kill();
            await bob.WaitForExitAsync(TimeSpan.FromSeconds(10), Ct);
        }
        finally
        {
            await bob.DisposeAsync();
        }
        await alice.PeerEventAsync("disconnected", bob.PeerId, Ct);
        JsonElement away = await alice.PeerEventAsync("reconnecting", bob.PeerId, Ct);
        DateTimeOffset reconnectAt = DateTimeOffset.Parse(Text(away, "reconnectAt"), global::System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(reconnectAt - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(-5), TimeSpan.FromSeconds(5));
        await alice.SendLineAsync("/peers");
        Assert.Matches($"{bob.PeerId} .*away, reconnecting in \\d+s",
            Text(await alice.NextAsync(e => Is(e, "notice") && Text(e, "text").Contains(bob.PeerId), TimeSpan.FromSeconds(20), Ct), "text"));

        // bob comes back at the same address with the same identity but no memory of alice, so only
        // alice's redial can bring them together.
        string freshData = Folder("bob-fresh");
        File.Copy(Path.Combine(bobData, "identity.key"), Path.Combine(freshData, "identity.key"));
        File.SetUnixFileMode(Path.Combine(freshData, "identity.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await using EchoChatProcess again = await EchoChatProcess.StartAsync("bob", [], Ct, dataDirectory: freshData, listen: bobListen);
        Assert.Equal(bob.PeerId, again.PeerId);
        Stopwatch sinceReady = Stopwatch.StartNew();

        // The back-off doubles from about 1 s: bob came back within a few seconds, so the next dial is at most ~10 s away.
        JsonElement back = await alice.NextAsync(e => IsPeer(e, "connected", bob.PeerId), TimeSpan.FromSeconds(30), Ct);
        Assert.Equal("remembered", Text(back, "source"));
        Assert.True(sinceReady.Elapsed < TimeSpan.FromSeconds(30), $"reconnected after {sinceReady.Elapsed}");
        await again.PeerEventAsync("connected", alice.PeerId, Ct);
        Assert.DoesNotContain(alice.Drain(), e => Is(e, "error"));
    }
}
