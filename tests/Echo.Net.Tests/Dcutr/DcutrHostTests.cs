using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Echo.Net.Dcutr;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Transport.Tcp;
using Google.Protobuf;
using HolePunch = Echo.Net.Dcutr.Pb.HolePunch;

namespace Echo.Net.Tests.Dcutr;

/// <summary>
/// DCUtR between two hosts on loopback (which the hosts take for the internet): a limited connection made
/// of in-memory pipes stands for a relayed circuit; a is the peer that dialed through the relay (the spec's
/// A), b the one that was dialed (B) and leads the upgrade.
/// </summary>
public class DcutrHostTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    private static Task Bounded(Task task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    private static readonly DcutrOptions Fast = new()
    {
        UnilateralUpgrade = false,
        PunchTimeout = TimeSpan.FromSeconds(5),
        RetryDelay = TimeSpan.FromMilliseconds(100),
        RelayedGracePeriod = TimeSpan.FromSeconds(3),
    };

    private static HostOptions Options(DcutrOptions? dcutr = null, bool enabled = true) => new()
    {
        EnableDcutr = enabled,
        PublicRanges = [IPNetwork.Parse("127.0.0.0/8")],
        Dcutr = dcutr ?? Fast,
    };

    /// <summary>A limited connection a (outbound) to b (inbound) over in-memory pipes, as a relayed circuit.</summary>
    private static async Task<(Connection AtA, Connection AtB)> RelayAsync(Libp2pHost a, Libp2pHost b)
    {
        Pipe aToB = new();
        Pipe bToA = new();
        Multiaddr circuit = Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{KeyPair.Generate().PeerId}/p2p-circuit");
        PipeRawConnection rawA = new(new DuplexPipe(bToA.Reader, aToB.Writer), circuit, circuit);
        PipeRawConnection rawB = new(new DuplexPipe(aToB.Reader, bToA.Writer), circuit, circuit);
        ConnectionLimit limit = new(TimeSpan.FromMinutes(2), 128 * 1024);
        Task<Connection> atA = a.AddConnectionAsync(rawA, ConnectionRole.Initiator, ConnectionDirection.Outbound, b.PeerId, limit, Ct);
        Task<Connection> atB = b.AddConnectionAsync(rawB, ConnectionRole.Responder, ConnectionDirection.Inbound, a.PeerId, limit, Ct);
        Connection[] both = await Bounded(Task.WhenAll(atA, atB));
        Assert.True(both[0].IsLimited && both[1].IsLimited);
        return (both[0], both[1]);
    }

    private static Task<DcutrResult> NextResult(Libp2pHost host)
    {
        TaskCompletionSource<DcutrResult> tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Dcutr!.Completed += r => tcs.TrySetResult(r);
        return tcs.Task;
    }

    private static Multiaddr DeadAddress()
    {
        using Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return Multiaddr.FromTcpEndPoint((IPEndPoint)socket.LocalEndPoint!);
    }

    private static async Task EchoAsync(Libp2pHost from, PeerId to, Connection expected)
    {
        P2PStream stream = await Bounded(from.OpenStreamAsync(to, TestHosts.EchoProtocol, Ct));
        Assert.Same(expected, stream.Connection);
        byte[] data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(200_000);
        (byte[] hash, long length) = await Bounded(TestHosts.EchoRoundTripAsync(stream, data, Ct));
        Assert.Equal(data.Length, length);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(data), hash);
    }

    [Fact(Timeout = 60_000)]
    public async Task HolePunch_MakesADirectConnectionWithTheSpecRoles_StreamsUseIt_TheRelayedOneClosesAfterTheGracePeriod()
    {
        await using Libp2pHost a = await TestHosts.StartAsync(Options());
        await using Libp2pHost b = await TestHosts.StartAsync(Options());
        Task<DcutrResult> atA = NextResult(a);
        Task<DcutrResult> atB = NextResult(b);
        int disconnects = 0;
        a.PeerDisconnected += _ => Interlocked.Increment(ref disconnects);
        b.PeerDisconnected += _ => Interlocked.Increment(ref disconnects);

        (Connection relayedA, Connection relayedB) = await RelayAsync(a, b);
        // The echo protocol may not use the relayed connection (asked on it: on loopback the punch may
        // already have put a direct connection first).
        await Assert.ThrowsAsync<LimitedConnectionException>(() => relayedA.OpenStreamAsync([TestHosts.EchoProtocol], Ct));
        DcutrResult resultA = await Bounded(atA);
        DcutrResult resultB = await Bounded(atB);

        Assert.Equal((DcutrOutcome.HolePunched, 1, ConnectionRole.Initiator), (resultA.Outcome, resultA.Attempts, resultA.Role));
        Assert.Equal((DcutrOutcome.HolePunched, 1, ConnectionRole.Responder), (resultB.Outcome, resultB.Attempts, resultB.Role));
        Connection directA = a.GetConnection(b.PeerId)!;
        Connection directB = b.GetConnection(a.PeerId)!;
        Assert.False(directA.IsLimited);
        Assert.False(directB.IsLimited);
        // The peer that received SYNC (a) initiates, whoever's SYN made the connection.
        Assert.Equal(ConnectionRole.Initiator, directA.Role);
        Assert.Equal(ConnectionRole.Responder, directB.Role);
        // Both dialed from their listening ports: the connection joins the two listen addresses.
        Assert.Equal(b.ListenAddresses[0], directA.RemoteAddress.WithoutPeerId());
        Assert.Equal(a.ListenAddresses[0], directB.RemoteAddress.WithoutPeerId());
        Assert.Equal(directA.RemoteAddress, resultA.RemoteAddress);
        Assert.Same(resultB, b.Dcutr!.LastResult(a.PeerId));
        Assert.False(relayedA.IsClosed || relayedB.IsClosed);   // within the grace period

        await EchoAsync(a, b.PeerId, directA);
        await EchoAsync(b, a.PeerId, directB);

        await TestHosts.WaitUntilAsync(() => relayedA.IsClosed && relayedB.IsClosed, "the relayed connection closes",
            TimeSpan.FromSeconds(20));
        Assert.Same(directA, a.GetConnection(b.PeerId));
        Assert.Same(directB, b.GetConnection(a.PeerId));
        Assert.Equal(0, Volatile.Read(ref disconnects));
        Assert.True(await Bounded(a.PingAsync(b.PeerId, Ct)) > TimeSpan.Zero);
    }

    [Fact(Timeout = 60_000)]
    public async Task BothDialedThroughRelaysAtOnce_OneUpgradeGoesOn_AndTheDirectConnectionWorks()
    {
        // Two NATed peers that found each other at once each dial the other through a relay. Both hosts
        // keep the circuit the peer with the smaller id dialed; here that peer takes the other circuit
        // first, so each host has an inbound circuit it leads an upgrade over. Two upgrades at once took
        // the same punched socket in opposite roles (both Noise initiators) and failed every attempt.
        RecordingLoggerFactory logsLow = new(), logsHigh = new();
        await using Libp2pHost first = await StartAsync(logsLow);
        await using Libp2pHost second = await StartAsync(logsHigh);
        bool firstIsLow = first.PeerId.Bytes.SequenceCompareTo(second.PeerId.Bytes) < 0;
        (Libp2pHost low, Libp2pHost high) = firstIsLow ? (first, second) : (second, first);
        (logsLow, logsHigh) = firstIsLow ? (logsLow, logsHigh) : (logsHigh, logsLow);
        Task<DcutrResult> atLow = NextResult(low);
        Task<DcutrResult> atHigh = NextResult(high);

        await RelayAsync(high, low);      // low's inbound circuit: low starts leading an upgrade over it
        await RelayAsync(low, high);      // the circuit both keep: high leads over it
        DcutrResult resultLow = await Bounded(atLow);
        DcutrResult resultHigh = await Bounded(atHigh);

        Assert.Equal((DcutrOutcome.HolePunched, 1), (resultLow.Outcome, resultLow.Attempts));
        Assert.Equal((DcutrOutcome.HolePunched, 1), (resultHigh.Outcome, resultHigh.Attempts));
        Connection directLow = low.GetConnection(high.PeerId)!;
        Connection directHigh = high.GetConnection(low.PeerId)!;
        Assert.False(directLow.IsLimited || directHigh.IsLimited);
        Assert.NotEqual(directLow.Role, directHigh.Role);
        await EchoAsync(low, high.PeerId, directLow);
        await EchoAsync(high, low.PeerId, directHigh);
        Assert.Equal(2, logsLow.Count(e => e.EventId == 4300) + logsHigh.Count(e => e.EventId == 4300));   // both began to lead
    }

    private static async Task<Libp2pHost> StartAsync(RecordingLoggerFactory logs)
    {
        HostOptions options = Options() with { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] };
        Libp2pHost host = new(KeyPair.Generate(), options, logs);
        await host.StartAsync(Ct);
        host.SetStreamHandler(TestHosts.EchoProtocol, TestHosts.EchoAsync, maxInboundStreamsPerPeer: 256);
        return host;
    }

    [Fact(Timeout = 60_000)]
    public async Task UnilateralUpgrade_DialsThePeersPublicAddress()
    {
        await using Libp2pHost a = await TestHosts.StartAsync(Options());
        await using Libp2pHost b = await TestHosts.StartAsync(Options(Fast with { UnilateralUpgrade = true }));
        Task<DcutrResult> atB = NextResult(b);

        (Connection relayedA, _) = await RelayAsync(a, b);
        DcutrResult result = await Bounded(atB);

        Assert.Equal((DcutrOutcome.DirectDial, 0, ConnectionRole.Initiator), (result.Outcome, result.Attempts, result.Role));
        Assert.Equal(a.ListenAddresses[0], result.RemoteAddress!.WithoutPeerId());
        Connection directA = a.GetConnection(b.PeerId)!;
        Assert.False(directA.IsLimited);
        Assert.Equal((ConnectionDirection.Inbound, ConnectionRole.Responder), (directA.Direction, directA.Role));
        Assert.Null(a.Dcutr!.LastResult(b.PeerId));     // no exchange reached a
        await EchoAsync(a, b.PeerId, directA);
        await TestHosts.WaitUntilAsync(() => relayedA.IsClosed, "the relayed connection closes", TimeSpan.FromSeconds(20));
    }

    [Fact(Timeout = 60_000)]
    public async Task UnreachableAddresses_ThreeAttemptsFail_AndThePeerStaysRelayed()
    {
        Multiaddr deadA = DeadAddress();
        Multiaddr deadB = DeadAddress();
        await using Libp2pHost a = await TestHosts.StartAsync(Options(Fast with { Addresses = () => [deadA] }));
        await using Libp2pHost b = await TestHosts.StartAsync(Options(Fast with { Addresses = () => [deadB] }));
        Task<DcutrResult> atA = NextResult(a);
        Task<DcutrResult> atB = NextResult(b);

        (Connection relayedA, Connection relayedB) = await RelayAsync(a, b);
        DcutrResult resultB = await Bounded(atB);
        DcutrResult resultA = await Bounded(atA);

        Assert.Equal((DcutrOutcome.Failed, DcutrLimits.MaxAttempts), (resultB.Outcome, resultB.Attempts));
        Assert.Contains("connection refused", resultB.Reason);
        Assert.False(resultB.SymmetricNatSuspected);
        // a counts the exchanges: it gives up after the third CONNECT.
        Assert.Equal((DcutrOutcome.Failed, DcutrLimits.MaxAttempts), (resultA.Outcome, resultA.Attempts));
        Assert.Same(relayedA, a.GetConnection(b.PeerId));
        Assert.Same(relayedB, b.GetConnection(a.PeerId));
        Assert.Equal(resultB, b.Dcutr!.LastResult(a.PeerId));
        Assert.True(await Bounded(a.PingAsync(b.PeerId, Ct)) > TimeSpan.Zero);
    }

    [Fact(Timeout = 60_000)]
    public async Task PortsThatChangeBetweenAttempts_ReportASymmetricNat()
    {
        Multiaddr[] moving = [DeadAddress(), DeadAddress(), DeadAddress()];
        int calls = 0;
        await using Libp2pHost a = await TestHosts.StartAsync(Options(Fast with { Addresses = () => [moving[Interlocked.Increment(ref calls) % 3]] }));
        await using Libp2pHost b = await TestHosts.StartAsync(Options(Fast with { Addresses = () => [DeadAddress()] }));
        Task<DcutrResult> atB = NextResult(b);

        await RelayAsync(a, b);
        DcutrResult result = await Bounded(atB);

        Assert.Equal(DcutrOutcome.Failed, result.Outcome);
        Assert.True(result.SymmetricNatSuspected);
        Assert.StartsWith("symmetric NAT suspected", result.Reason);
    }

    /// <summary>b speaks DCUtR by hand (its own host does not run it): a opened the relayed connection and answers.</summary>
    private static async Task<(Libp2pHost A, Libp2pHost B)> HandDrivenAsync()
    {
        Libp2pHost a = await TestHosts.StartAsync(Options());
        Libp2pHost b = await TestHosts.StartAsync(Options(enabled: false));
        await RelayAsync(a, b);
        return (a, b);
    }

    private static async Task<bool> EndsWithoutAnswerAsync(P2PStream stream)
    {
        try
        {
            return await Bounded(DcutrCodec.ReadAsync(stream.Input, Ct).AsTask()) is null;
        }
        catch (IOException)
        {
            return true;   // reset
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task SyncWithoutConnect_OversizedAndMalformedMessages_ResetTheStream_AndNothingElse()
    {
        (Libp2pHost a, Libp2pHost b) = await HandDrivenAsync();
        await using (a)
        await using (b)
        {
            P2PStream sync = await Bounded(b.OpenStreamAsync(a.PeerId, Libp2pHost.DcutrProtocolId, Ct));
            await DcutrCodec.WriteAsync(sync.Output, DcutrCodec.Sync(), Ct);
            Assert.True(await EndsWithoutAnswerAsync(sync));

            P2PStream oversized = await Bounded(b.OpenStreamAsync(a.PeerId, Libp2pHost.DcutrProtocolId, Ct));
            await oversized.Output.WriteLengthPrefixedAsync(new byte[DcutrLimits.MaxMessageLength + 1], Ct);
            Assert.True(await EndsWithoutAnswerAsync(oversized));

            P2PStream malformed = await Bounded(b.OpenStreamAsync(a.PeerId, Libp2pHost.DcutrProtocolId, Ct));
            await malformed.Output.WriteLengthPrefixedAsync(new byte[] { 0x12, 0x01, 0x00 }, Ct);
            Assert.True(await EndsWithoutAnswerAsync(malformed));

            Assert.True(a.GetConnection(b.PeerId)!.IsLimited);
            Assert.True(await Bounded(b.PingAsync(a.PeerId, Ct)) > TimeSpan.Zero);
            Assert.Null(a.Dcutr!.LastResult(b.PeerId));
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task GarbageObservedAddresses_AreIgnored_TheAnswerStillComes_AndNothingIsDialed()
    {
        (Libp2pHost a, Libp2pHost b) = await HandDrivenAsync();
        await using (a)
        await using (b)
        {
            P2PStream stream = await Bounded(b.OpenStreamAsync(a.PeerId, Libp2pHost.DcutrProtocolId, Ct));
            HolePunch connect = new() { Type = HolePunch.Types.Type.Connect };
            connect.ObsAddrs.Add(ByteString.CopyFrom(0xde, 0xad));
            connect.ObsAddrs.Add(ByteString.CopyFrom(Multiaddr.Parse("/ip4/192.168.7.7/tcp/4001").Bytes));
            connect.ObsAddrs.Add(ByteString.CopyFrom(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/1/p2p/{b.PeerId}/p2p-circuit").Bytes));
            await DcutrCodec.WriteAsync(stream.Output, connect, Ct);

            HolePunch? answer = await Bounded(DcutrCodec.ReadAsync(stream.Input, Ct).AsTask());
            Assert.Equal(HolePunch.Types.Type.Connect, answer!.Type);
            Assert.Equal([a.ListenAddresses[0]], answer.ObsAddrs.Select(x => Multiaddr.FromBytes(x.Span)));
            await DcutrCodec.WriteAsync(stream.Output, DcutrCodec.Sync(), Ct);
            await stream.CompleteOutputAsync();
            Assert.True(await EndsWithoutAnswerAsync(stream));

            Assert.True(a.GetConnection(b.PeerId)!.IsLimited);
            Assert.Single(a.Connections);
            Assert.True(await Bounded(b.PingAsync(a.PeerId, Ct)) > TimeSpan.Zero);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task ThirdAttempt_SwapsTheRoles()
    {
        (Libp2pHost a, Libp2pHost b) = await HandDrivenAsync();
        await using (a)
        await using (b)
        {
            Task<DcutrResult> atA = NextResult(a);
            using Socket listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(4);
            Multiaddr reachable = Multiaddr.FromTcpEndPoint((IPEndPoint)listener.LocalEndPoint!);
            Multiaddr dead = DeadAddress();

            for (int attempt = 1; attempt <= DcutrLimits.MaxAttempts; attempt++)
            {
                P2PStream stream = await Bounded(b.OpenStreamAsync(a.PeerId, Libp2pHost.DcutrProtocolId, Ct));
                await DcutrCodec.WriteAsync(stream.Output, DcutrCodec.Connect([attempt < DcutrLimits.MaxAttempts ? dead : reachable]), Ct);
                Assert.Equal(HolePunch.Types.Type.Connect, (await Bounded(DcutrCodec.ReadAsync(stream.Input, Ct).AsTask()))!.Type);
                await DcutrCodec.WriteAsync(stream.Output, DcutrCodec.Sync(), Ct);
                await stream.CompleteOutputAsync();
                Assert.True(await EndsWithoutAnswerAsync(stream));
            }

            // a dialed our socket from its listening port and, on the third attempt, responds: b initiates.
            Socket accepted = await listener.AcceptAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
            Assert.Equal(a.ListenAddresses[0], Multiaddr.FromTcpEndPoint(TcpConnection.Normalize((IPEndPoint)accepted.RemoteEndPoint!)));
            Connection atB = await Bounded(b.AddConnectionAsync(new TcpConnection(accepted), ConnectionRole.Initiator,
                ConnectionDirection.Inbound, a.PeerId, null, Ct));
            DcutrResult result = await Bounded(atA);

            Assert.Equal((DcutrOutcome.HolePunched, 3, ConnectionRole.Responder), (result.Outcome, result.Attempts, result.Role));
            Connection direct = a.GetConnection(b.PeerId)!;
            Assert.Equal((false, ConnectionRole.Responder), (direct.IsLimited, direct.Role));
            Assert.Same(atB, b.GetConnection(a.PeerId));
            await EchoAsync(b, a.PeerId, atB);
        }
    }
}
