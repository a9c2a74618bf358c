using System.Text.Json;

namespace Echo.Interop.Tests;

/// <summary>Two js peers started once for the class: the dialer and the listener it connects to.</summary>
public sealed class JsPeerPair : IAsyncLifetime
{
    public const string ListenerAgent = "echo-interop-listener/1.0";

    private JsPeer? _dialer;
    private JsPeer? _listener;

    public JsPeer Dialer => _dialer ?? throw new InvalidOperationException("the js peers did not start");
    public JsPeer Listener => _listener ?? throw new InvalidOperationException("the js peers did not start");

    public async ValueTask InitializeAsync()
    {
        try
        {
            await NodeRequirement.EnsureAvailableAsync(CancellationToken.None);
        }
        catch (Exception)
        {
            return;   // each test asks again and skips or fails with the reason
        }
        Task<JsPeer> dialer = JsPeer.StartAsync(null, CancellationToken.None);
        // The dial benchmark and the spawned dialers connect from one host faster than js's default
        // five inbound connections per second allow.
        Task<JsPeer> listener = JsPeer.StartAsync(new Dictionary<string, string>
        {
            ["AGENT"] = ListenerAgent,
            ["INBOUND_CONNECTION_THRESHOLD"] = "1000",
        }, CancellationToken.None);
        try
        {
            await Task.WhenAll(dialer, listener);
        }
        finally
        {
            _dialer = dialer.IsCompletedSuccessfully ? dialer.Result : null;
            _listener = listener.IsCompletedSuccessfully ? listener.Result : null;
        }
    }

    /// <summary>Skips without node; otherwise makes sure the dialer is connected to the listener.</summary>
    public async Task<(JsPeer Dialer, JsPeer Listener)> ConnectedAsync(CancellationToken cancellationToken)
    {
        await NodeRequirement.EnsureAvailableAsync(cancellationToken);
        JsonElement reply = await Dialer.CommandAsync("dial", new { addr = Listener.Addr }, cancellationToken);
        Assert.Equal(Listener.PeerId, reply.GetProperty("peerId").GetString());
        return (Dialer, Listener);
    }

    public async ValueTask DisposeAsync()
    {
        if (_dialer is not null)
            await _dialer.DisposeAsync();
        if (_listener is not null)
            await _listener.DisposeAsync();
    }
}

public class JsPeerHarnessTests(JsPeerPair pair) : IClassFixture<JsPeerPair>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Dial_Listener_BothSidesReportTheConnection()
    {
        (JsPeer dialer, JsPeer listener) = await pair.ConnectedAsync(Ct);

        Assert.StartsWith("12D3KooW", listener.PeerId, StringComparison.Ordinal);
        Assert.All(listener.Addrs, a => Assert.StartsWith("/ip4/127.0.0.1/tcp/", a, StringComparison.Ordinal));
        Assert.All(listener.Addrs, a => Assert.EndsWith($"/p2p/{listener.PeerId}", a, StringComparison.Ordinal));

        JsonElement opened = await listener.WaitForEventAsync(
            e => e.GetProperty("event").GetString() == "connection:open"
                 && e.GetProperty("peerId").GetString() == dialer.PeerId,
            TimeSpan.FromSeconds(10), Ct);
        Assert.Equal("inbound", opened.GetProperty("direction").GetString());

        JsonElement connections = await dialer.CommandAsync("connections", null, Ct);
        JsonElement outbound = Assert.Single(connections.GetProperty("connections").EnumerateArray(),
            c => c.GetProperty("peerId").GetString() == listener.PeerId);
        Assert.Equal("/noise", outbound.GetProperty("encryption").GetString());
        Assert.Equal("/yamux/1.0.0", outbound.GetProperty("multiplexer").GetString());
    }

    [Fact]
    public async Task Ping_ByPeerAndByAddress_ReportsRoundTrip()
    {
        (JsPeer dialer, JsPeer listener) = await pair.ConnectedAsync(Ct);

        JsonElement byPeer = await dialer.CommandAsync("ping", new { peer = listener.PeerId }, Ct);
        JsonElement byAddr = await dialer.CommandAsync("ping", new { addr = listener.Addr }, Ct);

        // js-libp2p reports whole milliseconds (0 on a fast loopback); elapsedMs is sub-millisecond.
        Assert.True(byPeer.GetProperty("rttMs").GetDouble() >= 0);
        Assert.True(byPeer.GetProperty("elapsedMs").GetDouble() > 0);
        Assert.True(byAddr.GetProperty("elapsedMs").GetDouble() > 0);
    }

    [Fact]
    public async Task Identify_Listener_ReportsProtocolsAgentAndAddresses()
    {
        (JsPeer dialer, JsPeer listener) = await pair.ConnectedAsync(Ct);

        JsonElement info = await dialer.CommandAsync("identify", new { peer = listener.PeerId }, Ct);

        string[] protocols = [.. info.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()!)];
        Assert.Contains("/ipfs/id/1.0.0", protocols);
        Assert.Contains("/ipfs/ping/1.0.0", protocols);
        Assert.Contains("/test/echo/1.0.0", protocols);
        Assert.Contains("/perf/1.0.0", protocols);
        Assert.Equal(JsPeerPair.ListenerAgent, info.GetProperty("agentVersion").GetString());
        Assert.Equal("ipfs/0.1.0", info.GetProperty("protocolVersion").GetString());
        string listenAddr = listener.Addr[..listener.Addr.IndexOf("/p2p/", StringComparison.Ordinal)];
        Assert.Contains(listenAddr, info.GetProperty("listenAddrs").EnumerateArray().Select(a => a.GetString()));
        Assert.EndsWith($"/p2p/{dialer.PeerId}", info.GetProperty("observedAddr").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Echo_OneMebibyte_ComesBackIdentical()
    {
        (JsPeer dialer, JsPeer listener) = await pair.ConnectedAsync(Ct);
        const int bytes = 1 << 20;

        JsonElement first = await dialer.CommandAsync("echo", new { peer = listener.PeerId, bytes, seed = "harness" }, Ct);
        JsonElement again = await dialer.CommandAsync("echo", new { addr = listener.Addr, bytes, seed = "harness" }, Ct);

        Assert.Equal(bytes, first.GetProperty("receivedBytes").GetInt64());
        Assert.Equal(first.GetProperty("sentSha256").GetString(), first.GetProperty("receivedSha256").GetString());
        // Same seed, same bytes; the SHA-256 of 1 MiB of zeros would mean the source is broken.
        Assert.Equal(first.GetProperty("sentSha256").GetString(), again.GetProperty("receivedSha256").GetString());
        Assert.NotEqual("30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58",
            first.GetProperty("sentSha256").GetString());
    }

    [Fact]
    public async Task EchoMany_TenConcurrentStreams_AllSucceed()
    {
        (JsPeer dialer, JsPeer listener) = await pair.ConnectedAsync(Ct);

        JsonElement result = await dialer.CommandAsync("echoMany", new { peer = listener.PeerId, streams = 10, bytes = 64 * 1024 }, Ct);

        Assert.Empty(result.GetProperty("failures").EnumerateArray());
        Assert.Equal(10, result.GetProperty("succeeded").GetInt32());
    }

    [Fact]
    public async Task Perf_SmallTransfer_ReportsTimings()
    {
        (JsPeer dialer, JsPeer listener) = await pair.ConnectedAsync(Ct);

        JsonElement result = await dialer.CommandAsync("perf",
            new { peer = listener.PeerId, uploadBytes = 256 * 1024, downloadBytes = 1 << 20 }, Ct);

        Assert.Equal(1 << 20, result.GetProperty("downloadBytes").GetInt64());
        Assert.True(result.GetProperty("totalMs").GetDouble() > 0);
        Assert.True(result.GetProperty("uploadMs").GetDouble() + result.GetProperty("downloadMs").GetDouble()
                    <= result.GetProperty("totalMs").GetDouble() + 0.01);
    }

    [Fact]
    public async Task DialBench_ThreeFreshConnections_TimesEach()
    {
        (JsPeer dialer, JsPeer listener) = await pair.ConnectedAsync(Ct);

        JsonElement result = await dialer.CommandAsync("dialBench", new { addr = listener.Addr, count = 3 }, Ct);

        double[] ready = [.. result.GetProperty("ready").EnumerateArray().Select(e => e.GetDouble())];
        double[] firstPing = [.. result.GetProperty("firstPing").EnumerateArray().Select(e => e.GetDouble())];
        Assert.Equal(3, ready.Length);
        Assert.Equal(3, firstPing.Length);
        for (int i = 0; i < ready.Length; i++)
        {
            Assert.True(ready[i] > 0);
            Assert.True(firstPing[i] > ready[i]);
        }
    }

    [Fact]
    public async Task SpawnDialers_Five_StayConnectedUntilClosed()
    {
        (JsPeer dialer, JsPeer listener) = await pair.ConnectedAsync(Ct);
        int before = (await listener.CommandAsync("stats", null, Ct)).GetProperty("connections").GetInt32();

        JsonElement spawned = await dialer.CommandAsync("spawnDialers", new { addr = listener.Addr, count = 5 }, Ct);
        int during = (await listener.CommandAsync("stats", null, Ct)).GetProperty("connections").GetInt32();
        JsonElement closed = await dialer.CommandAsync("closeDialers", null, Ct);

        Assert.Equal(5, spawned.GetProperty("connected").GetInt32());
        Assert.True(during >= before + 5, $"listener had {before} connections before and {during} during");
        Assert.Equal(5, closed.GetProperty("closed").GetInt32());
    }

    [Fact]
    public async Task Command_Unknown_ThrowsWithJsError()
    {
        (JsPeer dialer, _) = await pair.ConnectedAsync(Ct);

        JsPeerException e = await Assert.ThrowsAsync<JsPeerException>(() => dialer.CommandAsync("no-such-command", null, Ct));

        Assert.Contains("unknown command", e.JsError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dial_NothingListening_ThrowsWithJsError()
    {
        (JsPeer dialer, _) = await pair.ConnectedAsync(Ct);

        // Port 1 (tcpmux) is privileged and not served here, so the connect is refused.
        JsPeerException e = await Assert.ThrowsAsync<JsPeerException>(() =>
            dialer.CommandAsync("dial", new { addr = "/ip4/127.0.0.1/tcp/1" }, TimeSpan.FromSeconds(15), Ct));

        Assert.Contains("ECONNREFUSED", e.JsError, StringComparison.Ordinal);
    }
}

public class JsPeerLifecycleTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DisposeAsync_RunningPeer_ProcessExits()
    {
        await NodeRequirement.EnsureAvailableAsync(Ct);
        JsPeer peer = await JsPeer.StartAsync(null, Ct);
        JsonElement stats = await peer.CommandAsync("stats", null, Ct);
        Assert.True(stats.GetProperty("rss").GetInt64() > 0);

        await peer.DisposeAsync();

        Assert.True(peer.HasExited);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => peer.CommandAsync("stats", null, Ct));
    }

    [Fact]
    public async Task StartAsync_UnsupportedTransport_ThrowsWithStderr()
    {
        await NodeRequirement.EnsureAvailableAsync(Ct);

        JsPeerException e = await Assert.ThrowsAsync<JsPeerException>(() =>
            JsPeer.StartAsync(new Dictionary<string, string> { ["transport"] = "quic" }, Ct));

        Assert.Contains("transport=quic is not supported", e.StderrTail, StringComparison.Ordinal);
    }
}
