using System.Security.Cryptography;
using System.Text.Json;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Interop.Tests;

/// <summary>
/// The C# host against the pinned js-libp2p (TCP + Noise + yamux + identify + ping), both directions.
/// </summary>
public sealed class Libp2pInteropTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(90);

    private static async Task<JsPeer> StartJsAsync()
    {
        await NodeRequirement.EnsureAvailableAsync(Ct);
        return await JsPeer.StartAsync(new Dictionary<string, string> { ["AGENT"] = "js-interop/1.0" }, Ct);
    }

    [Fact(Timeout = 120_000)]
    public async Task CSharpDialsJs_PingAndIdentifyBothWays()
    {
        await using JsPeer js = await StartJsAsync();
        await using Libp2pHost host = await TestHosts.StartAsync(new HostOptions { AgentVersion = "echo-interop/1.0" });
        PeerId jsId = PeerId.Parse(js.PeerId);
        Task<IdentifyInfo> identified = TestHosts.Identified(host, jsId);

        Connection connection = await host.DialAsync(Multiaddr.Parse(js.Addr), Ct).WaitAsync(Long, Ct);
        Assert.Equal(jsId, connection.RemotePeer);

        TimeSpan rtt = await host.PingAsync(jsId, Ct).WaitAsync(Long, Ct);
        Assert.True(rtt > TimeSpan.Zero && rtt < TimeSpan.FromSeconds(10), $"rtt {rtt}");

        IdentifyInfo aboutJs = await identified.WaitAsync(Long, Ct);
        Assert.Equal("js-interop/1.0", aboutJs.AgentVersion);
        Assert.Contains("/ipfs/ping/1.0.0", aboutJs.Protocols);
        Assert.Contains("/test/echo/1.0.0", aboutJs.Protocols);

        JsonElement aboutUs = await js.CommandAsync("identify", new { peer = host.PeerId.ToString() }, Ct);
        Assert.Equal("echo-interop/1.0", aboutUs.GetProperty("agentVersion").GetString());
        string[] protocols = [.. aboutUs.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()!)];
        Assert.Contains("/ipfs/ping/1.0.0", protocols);
        Assert.Contains("/ipfs/id/1.0.0", protocols);
        Assert.Contains(TestHosts.EchoProtocol, protocols);
    }

    [Fact(Timeout = 120_000)]
    public async Task JsDialsCSharp_PingAndIdentifyBothWays()
    {
        await using JsPeer js = await StartJsAsync();
        await using Libp2pHost host = await TestHosts.StartAsync(new HostOptions { AgentVersion = "echo-interop/1.0" });
        PeerId jsId = PeerId.Parse(js.PeerId);
        Task<IdentifyInfo> identified = TestHosts.Identified(host, jsId);

        JsonElement dial = await js.CommandAsync("dial", new { addr = TestHosts.AddressOf(host).ToString() }, Ct);
        Assert.Equal(host.PeerId.ToString(), dial.GetProperty("peerId").GetString());

        JsonElement ping = await js.CommandAsync("ping", new { peer = host.PeerId.ToString() }, Ct);
        Assert.True(ping.GetProperty("elapsedMs").GetDouble() > 0);

        JsonElement aboutUs = await js.CommandAsync("identify", new { peer = host.PeerId.ToString() }, Ct);
        Assert.Equal("echo-interop/1.0", aboutUs.GetProperty("agentVersion").GetString());
        Assert.Contains(TestHosts.EchoProtocol, aboutUs.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()));

        IdentifyInfo aboutJs = await identified.WaitAsync(Long, Ct);
        Assert.Equal("js-interop/1.0", aboutJs.AgentVersion);
        Assert.Equal(ConnectionDirection.Inbound, host.GetConnection(jsId)!.Direction);
        Assert.True(await host.PingAsync(jsId, Ct).WaitAsync(Long, Ct) > TimeSpan.Zero);
    }

    [Fact(Timeout = 120_000)]
    public async Task CSharpToJs_64MiBOnOneStream_SameHash()
    {
        await using JsPeer js = await StartJsAsync();
        await using Libp2pHost host = await TestHosts.StartAsync();
        Connection connection = await host.DialAsync(Multiaddr.Parse(js.Addr), Ct).WaitAsync(Long, Ct);
        byte[] data = RandomNumberGenerator.GetBytes(64 << 20);
        P2PStream stream = await connection.OpenStreamAsync(TestHosts.EchoProtocol, Ct).WaitAsync(Long, Ct);
        (byte[] hash, long length) = await TestHosts.EchoRoundTripAsync(stream, data, Ct).WaitAsync(Long, Ct);
        Assert.Equal(data.Length, length);
        Assert.Equal(SHA256.HashData(data), hash);
    }

    [Fact(Timeout = 120_000)]
    public async Task JsToCSharp_64MiBOnOneStream_SameHash()
    {
        await using JsPeer js = await StartJsAsync();
        await using Libp2pHost host = await TestHosts.StartAsync();
        await js.CommandAsync("dial", new { addr = TestHosts.AddressOf(host).ToString() }, Ct);
        JsonElement echo = await js.CommandAsync("echo", new { peer = host.PeerId.ToString(), bytes = 64 << 20 }, Long, Ct);
        Assert.Equal(64 << 20, echo.GetProperty("receivedBytes").GetInt64());
        Assert.Equal(echo.GetProperty("sentSha256").GetString(), echo.GetProperty("receivedSha256").GetString());
    }

    [Fact(Timeout = 120_000)]
    public async Task CSharpToJs_100ConcurrentStreams_AllComplete()
    {
        await using JsPeer js = await StartJsAsync();
        await using Libp2pHost host = await TestHosts.StartAsync();
        Connection connection = await host.DialAsync(Multiaddr.Parse(js.Addr), Ct).WaitAsync(Long, Ct);
        bool[] results = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            byte[] data = RandomNumberGenerator.GetBytes(64 * 1024);
            P2PStream stream = await connection.OpenStreamAsync(TestHosts.EchoProtocol, Ct);
            (byte[] hash, _) = await TestHosts.EchoRoundTripAsync(stream, data, Ct);
            return hash.AsSpan().SequenceEqual(SHA256.HashData(data));
        })).WaitAsync(Long, Ct);
        Assert.All(results, Assert.True);
    }

    [Fact(Timeout = 120_000)]
    public async Task JsToCSharp_100ConcurrentStreams_AllComplete()
    {
        await using JsPeer js = await StartJsAsync();
        await using Libp2pHost host = await TestHosts.StartAsync();
        await js.CommandAsync("dial", new { addr = TestHosts.AddressOf(host).ToString() }, Ct);
        JsonElement many = await js.CommandAsync("echoMany", new { peer = host.PeerId.ToString(), streams = 100, bytes = 64 * 1024 }, Long, Ct);
        Assert.Equal(100, many.GetProperty("succeeded").GetInt32());
        Assert.Equal(0, many.GetProperty("failures").GetArrayLength());
    }

    [Fact(Timeout = 120_000)]
    public async Task CSharpDialsJs_WrongPeerId_SaysWhichIdAnswered()
    {
        await using JsPeer js = await StartJsAsync();
        await using Libp2pHost host = await TestHosts.StartAsync();
        using KeyPair other = KeyPair.Generate();
        Multiaddr wrong = Multiaddr.Parse(js.Addr).WithoutPeerId().WithPeerId(other.PeerId);
        DialFailedException e = await Assert.ThrowsAsync<DialFailedException>(() => host.DialAsync(wrong, Ct).WaitAsync(Long, Ct));
        Assert.Contains($"expected {other.PeerId}, got {js.PeerId}", e.Message);
    }

    [Fact(Timeout = 120_000)]
    public async Task Perf_BothDirections_MovesTheAskedBytes()
    {
        await using JsPeer js = await StartJsAsync();
        await using Libp2pHost host = await TestHosts.StartAsync(new HostOptions { EnablePerf = true });
        Connection connection = await host.DialAsync(Multiaddr.Parse(js.Addr), Ct).WaitAsync(Long, Ct);
        P2PStream stream = await connection.OpenStreamAsync(Echo.Net.Perf.PerfProtocol.ProtocolId, Ct).WaitAsync(Long, Ct);
        Echo.Net.Perf.PerfResult result = await Echo.Net.Perf.PerfProtocol.RunAsync(stream, 8 << 20, 8 << 20, TimeProvider.System, Ct)
            .WaitAsync(Long, Ct);
        Assert.Equal(8UL << 20, result.DownloadBytes);

        JsonElement reverse = await js.CommandAsync("perf", new { peer = host.PeerId.ToString(), uploadBytes = 8 << 20, downloadBytes = 8 << 20 }, Long, Ct);
        Assert.Equal(8L << 20, reverse.GetProperty("downloadBytes").GetInt64());
    }
}
