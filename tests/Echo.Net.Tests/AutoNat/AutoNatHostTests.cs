using System.Net;
using System.Net.Sockets;
using Echo.Net.Addressing;
using Echo.Net.AutoNat;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Yamux;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using V2 = Echo.Net.AutoNat.Pb.V2;

namespace Echo.Net.Tests.AutoNat;

/// <summary>
/// AutoNAT between in-process hosts on loopback, with loopback counted as public: verdicts from
/// five servers, the dial-data guard, the throttle, nonce checking and the v1 fallback.
/// </summary>
public class AutoNatHostTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static bool LoopbackIsPublic(Multiaddr address) => AutoNatAddresses.IpOf(address) is { } ip && IPAddress.IsLoopback(ip);

    /// <summary>Checks nothing by itself (no candidates): the tests drive it.</summary>
    private static AutoNatOptions Quiet(AutoNatServerMode mode) => new()
    {
        IsPublic = LoopbackIsPublic,
        ServerMode = mode,
        Candidates = () => [],
    };

    private static async Task<Libp2pHost> StartAsync(AutoNatOptions autoNat, TimeProvider? time = null, params string[] listen)
    {
        HostOptions options = new()
        {
            ListenAddresses = [.. (listen.Length == 0 ? ["/ip4/127.0.0.1/tcp/0"] : listen).Select(Multiaddr.Parse)],
            EnableAutoNat = true,
            AutoNat = autoNat,
        };
        Libp2pHost host = new(KeyPair.Generate(), options, NullLoggerFactory.Instance, time);
        await host.StartAsync(Ct);
        return host;
    }

    private static async Task<List<Libp2pHost>> ServersAsync(int count)
    {
        List<Libp2pHost> servers = [];
        for (int i = 0; i < count; i++)
            servers.Add(await StartAsync(Quiet(AutoNatServerMode.On)));
        return servers;
    }

    private static async Task DisposeAllAsync(IEnumerable<Libp2pHost> hosts)
    {
        foreach (Libp2pHost host in hosts)
            await host.DisposeAsync();
    }

    private static Task<ReachabilityReport> NextReport(Libp2pHost host, ReachabilityStatus status)
    {
        TaskCompletionSource<ReachabilityReport> report = new(TaskCreationOptions.RunContinuationsAsynchronously);
        host.AutoNat!.ReachabilityChanged += r =>
        {
            if (r.Status == status)
                report.TrySetResult(r);
        };
        return report.Task;
    }

    [Fact(Timeout = 60_000)]
    public async Task AReachableAddress_IsJudgedPublicByMoreThanThreeServers_AndTheServerTurnsOn()
    {
        List<Libp2pHost> servers = await ServersAsync(5);
        try
        {
            await using Libp2pHost client = await StartAsync(new AutoNatOptions { IsPublic = LoopbackIsPublic });
            Task<ReachabilityReport> judged = NextReport(client, ReachabilityStatus.Public);
            Assert.False(client.AutoNat!.IsServing);
            Assert.Equal(ReachabilityStatus.Unknown, client.AutoNat.Reachability.Status);
            foreach (Libp2pHost server in servers)
                await client.DialAsync(TestHosts.AddressOf(server), Ct);

            ReachabilityReport report = await judged.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            Assert.Equal(client.ListenAddresses, report.Addresses);
            Assert.True(client.AutoNat.IsServing);
            Assert.Contains(AutoNatCodec.DialRequestProtocol, client.Protocols);
            Assert.True(servers.Sum(s => s.AutoNat!.ServerStats.Checks) > 3);
            Assert.All(servers, s => Assert.Equal(0, s.AutoNat!.ServerStats.DialDataRequests));
        }
        finally
        {
            await DisposeAllAsync(servers);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task AnAddressNothingAnswersOn_IsJudgedPrivate()
    {
        using Socket refusing = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        refusing.Bind(new IPEndPoint(IPAddress.Loopback, 0));     // bound, never listening: connections are refused
        Multiaddr dead = Multiaddr.FromTcpEndPoint((IPEndPoint)refusing.LocalEndPoint!);
        List<Libp2pHost> servers = await ServersAsync(5);
        try
        {
            await using Libp2pHost client = await StartAsync(new AutoNatOptions { IsPublic = LoopbackIsPublic, Candidates = () => [dead] });
            Task<ReachabilityReport> judged = NextReport(client, ReachabilityStatus.Private);
            foreach (Libp2pHost server in servers)
                await client.DialAsync(TestHosts.AddressOf(server), Ct);

            ReachabilityReport report = await judged.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            Assert.Equal([dead], report.Addresses);
            Assert.False(client.AutoNat!.IsServing);
            Assert.DoesNotContain(AutoNatCodec.DialRequestProtocol, client.Protocols);
        }
        finally
        {
            await DisposeAllAsync(servers);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task AServerOnlyOnV2Default_DialsBackFromAnotherPortThanItsListener()
    {
        await using Libp2pHost server = await StartAsync(Quiet(AutoNatServerMode.On));
        await using Libp2pHost client = await StartAsync(Quiet(AutoNatServerMode.Off));
        Connection connection = await client.DialAsync(TestHosts.AddressOf(server), Ct);

        AutoNatCheck check = await client.AutoNat!.Client.CheckAsync(connection, client.ListenAddresses, Ct);

        Assert.Equal(AutoNatOutcome.Reachable, check.Outcome);
        Assert.Equal(AutoNatCodec.DialRequestProtocol, check.Protocol);
        Assert.Equal(client.ListenAddresses[0], check.Address);
        Assert.True(check.DialBackFrom!.TryGetTcpEndPoint(out IPEndPoint? from));
        Assert.True(server.ListenAddresses[0].TryGetTcpEndPoint(out IPEndPoint? listening));
        Assert.NotEqual(listening!.Port, from!.Port);
        Assert.Equal(0, server.AutoNat!.ServerStats.DialDataRequests);
    }

    [Fact(Timeout = 30_000)]
    public async Task AnAddressOnAnotherIpThanObserved_CostsDialData_SentInChunksOfAtMost4096()
    {
        const int asked = 30_000;
        await using Libp2pHost server = await StartAsync(Quiet(AutoNatServerMode.On) with { MinDialDataBytes = asked, MaxDialDataBytes = asked });
        await using Libp2pHost client = await StartAsync(Quiet(AutoNatServerMode.Off), null, "/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/0");
        Connection connection = await client.DialAsync(TestHosts.AddressOf(server), Ct);      // observed: 127.0.0.1
        Multiaddr v6 = client.ListenAddresses.Single(a => AutoNatAddresses.IpOf(a)!.AddressFamily == AddressFamily.InterNetworkV6);

        AutoNatCheck check = await client.AutoNat!.Client.CheckAsync(connection, [v6], Ct);

        Assert.Equal(AutoNatOutcome.Reachable, check.Outcome);
        Assert.Equal(v6, check.Address);
        AutoNatServerStats stats = server.AutoNat!.ServerStats;
        Assert.Equal(1, stats.DialDataRequests);
        Assert.InRange(stats.DialDataBytes, asked, asked + AutoNatLimits.MaxDialDataChunk - 1);
        Assert.InRange(stats.LargestDialDataChunk, 1, AutoNatLimits.MaxDialDataChunk);
    }

    [Fact(Timeout = 30_000)]
    public async Task TheFourthRequestOfAPeerWithinAMinute_IsRejected_AndAllowedAMinuteLater()
    {
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        await using Libp2pHost server = await StartAsync(Quiet(AutoNatServerMode.On), time);
        await using Libp2pHost client = await StartAsync(Quiet(AutoNatServerMode.Off));
        Connection connection = await client.DialAsync(TestHosts.AddressOf(server), Ct);

        for (int i = 0; i < 3; i++)
            Assert.Equal(AutoNatOutcome.Reachable, (await client.AutoNat!.Client.CheckAsync(connection, client.ListenAddresses, Ct)).Outcome);
        Assert.Equal(AutoNatOutcome.Rejected, (await client.AutoNat!.Client.CheckAsync(connection, client.ListenAddresses, Ct)).Outcome);
        Assert.Equal(1, server.AutoNat!.ServerStats.RateLimited);

        time.Advance(AutoNatRateLimiter.Window);
        Assert.Equal(AutoNatOutcome.Reachable, (await client.AutoNat.Client.CheckAsync(connection, client.ListenAddresses, Ct)).Outcome);
        Assert.Equal(4, server.AutoNat.ServerStats.Checks);
    }

    [Fact(Timeout = 30_000)]
    public async Task PrivateAddresses_AreRefused()
    {
        await using Libp2pHost server = await StartAsync(Quiet(AutoNatServerMode.On) with { IsPublic = AddressClassifier.Default.IsPublic });
        await using Libp2pHost client = await StartAsync(Quiet(AutoNatServerMode.Off));
        Connection connection = await client.DialAsync(TestHosts.AddressOf(server), Ct);

        AutoNatCheck check = await client.AutoNat!.Client.CheckAsync(connection, client.ListenAddresses, Ct);

        Assert.Equal(AutoNatOutcome.Refused, check.Outcome);
        Assert.Equal(1, server.AutoNat!.ServerStats.Refused);
        Assert.Equal(0, server.AutoNat.ServerStats.Checks);
    }

    /// <summary>A server that dials back with a nonce other than ours and then claims success is not believed.</summary>
    [Fact(Timeout = 30_000)]
    public async Task ADialBackWithAnotherNonce_IsRejected_AndTheCheckHasNoVerdict()
    {
        await using Libp2pHost dialer = await TestHosts.StartAsync(listen: "");
        await using Libp2pHost liar = await TestHosts.StartAsync();
        liar.SetStreamHandler(AutoNatCodec.DialRequestProtocol, async (stream, ct) =>
        {
            V2.Message request = (await AutoNatCodec.ReadV2Async(stream.Input, ct))!;
            Multiaddr target = Multiaddr.FromBytes(request.DialRequest.Addrs[0].Span);
            Connection back = await dialer.DialAsync(target, ct);
            P2PStream nonce = await back.OpenStreamAsync(AutoNatCodec.DialBackProtocol, ct);
            await AutoNatCodec.WriteAsync(nonce.Output, new V2.DialBack { Nonce = request.DialRequest.Nonce + 1 }, ct);
            await nonce.CompleteOutputAsync();
            V2.DialResponse claim = new() { Status = V2.DialResponse.Types.ResponseStatus.Ok, DialStatus = V2.DialStatus.Ok };
            await AutoNatCodec.WriteAsync(stream.Output, new V2.Message { DialResponse = claim }, ct);
            await stream.CompleteOutputAsync();
        });
        await using Libp2pHost client = await StartAsync(Quiet(AutoNatServerMode.Off) with { DialBackWait = TimeSpan.FromSeconds(2) });
        Connection connection = await client.DialAsync(TestHosts.AddressOf(liar), Ct);

        AutoNatCheck check = await client.AutoNat!.Client.CheckAsync(connection, client.ListenAddresses, Ct);

        Assert.Equal(AutoNatOutcome.Failed, check.Outcome);
        Assert.Equal(1, client.AutoNat.Client.DialBacksRefused);
    }

    [Fact(Timeout = 30_000)]
    public async Task AnOversizedRequest_ResetsTheStream_AndTheServerStillServes()
    {
        await using Libp2pHost server = await StartAsync(Quiet(AutoNatServerMode.On));
        await using Libp2pHost client = await StartAsync(Quiet(AutoNatServerMode.Off));
        Connection connection = await client.DialAsync(TestHosts.AddressOf(server), Ct);
        P2PStream stream = await connection.OpenStreamAsync(AutoNatCodec.DialRequestProtocol, Ct);
        byte[] prefix = new byte[Varint.MaxLength];
        int n = Varint.Write(prefix, 64 * 1024 * 1024);
        await stream.Output.WriteAsync(prefix.AsMemory(0, n), Ct);   // announces 64 MiB, sends nothing more

        await Assert.ThrowsAsync<StreamResetException>(async () =>
            await stream.Input.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Equal(AutoNatOutcome.Reachable, (await client.AutoNat!.Client.CheckAsync(connection, client.ListenAddresses, Ct)).Outcome);
    }

    [Fact(Timeout = 30_000)]
    public async Task AServerThatSpeaksOnlyV1_IsAskedWithV1()
    {
        await using Libp2pHost server = await StartAsync(Quiet(AutoNatServerMode.Off));
        server.SetStreamHandler(AutoNatCodec.V1Protocol, server.AutoNat!.Server.HandleV1Async);
        await using Libp2pHost client = await StartAsync(Quiet(AutoNatServerMode.Off));
        Connection connection = await client.DialAsync(TestHosts.AddressOf(server), Ct);

        AutoNatCheck check = await client.AutoNat!.Client.CheckAsync(connection, client.ListenAddresses, Ct);

        Assert.Equal(AutoNatOutcome.Reachable, check.Outcome);
        Assert.Equal(AutoNatCodec.V1Protocol, check.Protocol);
        Assert.Equal(client.ListenAddresses[0], check.Address);
        Assert.Equal(1, server.AutoNat.ServerStats.Checks);
    }

    [Fact(Timeout = 30_000)]
    public async Task V1_DialsOnlyTheObservedIp()
    {
        await using Libp2pHost server = await StartAsync(Quiet(AutoNatServerMode.Off));
        server.SetStreamHandler(AutoNatCodec.V1Protocol, server.AutoNat!.Server.HandleV1Async);
        await using Libp2pHost client = await StartAsync(Quiet(AutoNatServerMode.Off), null, "/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/0");
        Connection connection = await client.DialAsync(TestHosts.AddressOf(server), Ct);
        Multiaddr v6 = client.ListenAddresses.Single(a => AutoNatAddresses.IpOf(a)!.AddressFamily == AddressFamily.InterNetworkV6);

        AutoNatCheck check = await client.AutoNat!.Client.CheckAsync(connection, [v6], Ct);

        Assert.Equal(AutoNatOutcome.Refused, check.Outcome);
        Assert.Equal(0, server.AutoNat.ServerStats.Checks);
    }
}
