using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.ResourceManager;
using Echo.Net.Tests.Host;
using Echo.Net.Tests.Identify;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Tests.ResourceManager;

/// <summary>The resource manager inside a real host on loopback: what each limit refuses, and the counters.</summary>
public sealed class HostResourceTests
{
    private const string HoldProtocol = "/test/hold/1.0.0";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(20));
        while (!condition())
        {
            if (bound.IsCancellationRequested)
                Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(20, CancellationToken.None);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task PerAddressLimit_LoopbackNotExempt_ThirdPeerFromTheAddressRefusedAndCounted()
    {
        await using Libp2pHost server = await TestHosts.StartAsync(new HostOptions
        {
            Limits = new ResourceLimits { MaxConnectionsPerAddress = 2, ExemptLoopback = false },
        });
        await using Libp2pHost first = await TestHosts.StartAsync();
        await using Libp2pHost second = await TestHosts.StartAsync();
        await using Libp2pHost third = await TestHosts.StartAsync();
        await Bounded(first.DialAsync(TestHosts.AddressOf(server), Ct));
        await Bounded(second.DialAsync(TestHosts.AddressOf(server), Ct));

        await Assert.ThrowsAsync<DialFailedException>(() => Bounded(third.DialAsync(TestHosts.AddressOf(server), Ct)));

        ResourceSnapshot snapshot = server.ResourceSnapshot();
        Assert.Equal(2, snapshot.InboundConnections);
        Assert.Equal(1, snapshot.Refused[LimitKind.ConnectionsPerAddress]);
        Assert.Equal(1, first.ResourceSnapshot().OutboundConnections);
    }

    [Fact(Timeout = 60_000)]
    public async Task InboundTotal_SocketsInTheirHandshakeCount_NoMoreThanTheLimitEverLetIn()
    {
        await using Libp2pHost server = await TestHosts.StartAsync(new HostOptions { MaxInboundConnections = 2 });
        IPEndPoint endPoint = EndPointOf(server);
        await using Libp2pHost honest = await TestHosts.StartAsync();
        List<Socket> stalled = [];
        try
        {
            for (int i = 0; i < 2; i++)
                stalled.Add(await StalledHandshakeAsync(endPoint));

            await Assert.ThrowsAsync<DialFailedException>(() => Bounded(honest.DialAsync(TestHosts.AddressOf(server), Ct)));
            Assert.Equal(1, server.ResourceSnapshot().Refused[LimitKind.InboundConnections]);
        }
        finally
        {
            foreach (Socket socket in stalled)
                socket.Dispose();
        }
        await WaitUntilAsync(() => server.ResourceSnapshot().PendingHandshakes == 0, "the stalled handshakes are released");
        await Bounded(honest.DialAsync(TestHosts.AddressOf(server), Ct));
        Assert.Equal(1, server.ResourceSnapshot().InboundConnections);
    }

    [Fact(Timeout = 60_000)]
    public async Task StreamsPerProtocol_PastTheHandlersLimitReset_AndCounted_FreedWhenAStreamEnds()
    {
        await using Libp2pHost server = await TestHosts.StartAsync();
        int serving = 0;
        server.SetStreamHandler(HoldProtocol, async (stream, cancellationToken) =>
        {
            Interlocked.Increment(ref serving);
            try
            {
                while (true)
                {
                    ReadResult read = await stream.Input.ReadAsync(cancellationToken);
                    stream.Input.AdvanceTo(read.Buffer.End);
                    if (read.IsCompleted)
                        break;
                }
            }
            finally
            {
                Interlocked.Decrement(ref serving);
            }
        }, maxInboundStreamsPerPeer: 2);
        await using Libp2pHost client = await TestHosts.StartAsync();
        await Bounded(client.DialAsync(TestHosts.AddressOf(server), Ct));
        P2PStream one = await Bounded(client.OpenStreamAsync(server.PeerId, HoldProtocol, Ct));
        P2PStream two = await Bounded(client.OpenStreamAsync(server.PeerId, HoldProtocol, Ct));
        await WaitUntilAsync(() => Volatile.Read(ref serving) == 2, "two streams are served");

        // The third is reset right after negotiation: the open itself or the first read fails.
        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            P2PStream three = await Bounded(client.OpenStreamAsync(server.PeerId, HoldProtocol, Ct));
            ReadResult read = await three.Input.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
            Assert.Fail($"the third stream was served (completed: {read.IsCompleted})");
        });
        await WaitUntilAsync(() => server.ResourceSnapshot().Refused[LimitKind.StreamsPerProtocol] == 1, "the third stream is counted");
        Assert.Equal(2, Volatile.Read(ref serving));
        Assert.Equal(2, server.ResourceSnapshot().InboundStreams);

        await one.CompleteOutputAsync();
        await WaitUntilAsync(() => server.ResourceSnapshot().InboundStreams == 1, "the first stream ended");
        P2PStream four = await Bounded(client.OpenStreamAsync(server.PeerId, HoldProtocol, Ct));
        await WaitUntilAsync(() => Volatile.Read(ref serving) == 2, "a new stream is served again");
        Assert.Equal(1, server.ResourceSnapshot().Refused[LimitKind.StreamsPerProtocol]);
        two.Reset();
        four.Reset();
    }

    [Fact(Timeout = 60_000)]
    public async Task ConnectionManager_PastTheHighWatermark_TrimsToTheLow_KeepingProtectedPeers()
    {
        await using Libp2pHost server = await TestHosts.StartAsync(new HostOptions
        {
            Limits = new ResourceLimits { HighWatermark = 2, LowWatermark = 1, GracePeriod = TimeSpan.Zero },
        });
        await using Libp2pHost kept = await TestHosts.StartAsync();
        await using Libp2pHost second = await TestHosts.StartAsync();
        await using Libp2pHost third = await TestHosts.StartAsync();
        server.Resources.ConnectionManager.Protect(kept.PeerId, "room:lobby");
        await Bounded(kept.DialAsync(TestHosts.AddressOf(server), Ct));
        await Bounded(second.DialAsync(TestHosts.AddressOf(server), Ct));
        Assert.Equal(2, server.Connections.Count);         // at the high watermark: nothing trimmed

        await Bounded(third.DialAsync(TestHosts.AddressOf(server), Ct));

        await WaitUntilAsync(() => server.Connections.Count == 1, "the server trimmed to the low watermark");
        Assert.Equal(kept.PeerId, server.Connections[0].RemotePeer);
        Assert.Equal(2, server.ResourceSnapshot().TrimmedConnections);
    }

    [Fact(Timeout = 60_000)]
    public async Task AcceptLoop_OutOfDescriptors_BacksOffLogsOnceAndAcceptsAgain()
    {
        RecordingLoggerFactory logs = new(LogLevel.Debug);
        await using Libp2pHost server = new(KeyPair.Generate(),
            new HostOptions { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] }, logs);
        int failures = 0;
        server.AcceptSocket = (listener, cancellationToken) =>
            Interlocked.Increment(ref failures) <= 5
                ? ValueTask.FromException<Socket>(new SocketException((int)SocketError.TooManyOpenSockets))
                : listener.AcceptAsync(cancellationToken);
        await server.StartAsync(Ct);
        await using Libp2pHost client = await TestHosts.StartAsync();

        Connection connection = await Bounded(client.DialAsync(TestHosts.AddressOf(server), Ct));

        Assert.Equal(server.PeerId, connection.RemotePeer);
        Assert.True(Volatile.Read(ref failures) > 5);
        Assert.Equal(1, logs.Count(e => e.EventId == 1515));   // paused, once for five failures
        await WaitUntilAsync(() => logs.Count(e => e.EventId == 1516) == 1, "the resumption is logged");
    }

    [Fact(Timeout = 60_000)]
    public async Task Snapshot_CountsBothDirections_AndReleasesEverythingWhenTheyGo()
    {
        await using Libp2pHost server = await TestHosts.StartAsync();
        await using Libp2pHost client = await TestHosts.StartAsync();
        Connection connection = await Bounded(client.DialAsync(TestHosts.AddressOf(server), Ct));
        await WaitUntilAsync(() => server.ResourceSnapshot().InboundConnections == 1, "the server counts the connection");
        Assert.Equal(1, client.ResourceSnapshot().OutboundConnections);
        Assert.Equal(1, server.ResourceSnapshot().DescriptorsInUse);

        await connection.CloseAsync();

        await WaitUntilAsync(() => server.ResourceSnapshot() is { InboundConnections: 0, DescriptorsInUse: 0, PendingHandshakes: 0 },
            "the server released the connection");
        await WaitUntilAsync(() => client.ResourceSnapshot() is { OutboundConnections: 0, DescriptorsInUse: 0 },
            "the client released the connection");
        Assert.All(server.ResourceSnapshot().Refused.Values, count => Assert.Equal(0, count));
    }

    private static IPEndPoint EndPointOf(Libp2pHost host)
    {
        Assert.True(host.ListenAddresses[0].TryGetTcpEndPoint(out IPEndPoint? endPoint));
        return endPoint!;
    }

    /// <summary>A TCP connection that the server took in (it sent its multistream header) and that never answers.</summary>
    private static async Task<Socket> StalledHandshakeAsync(IPEndPoint endPoint)
    {
        Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint, Ct);
            byte[] header = new byte[20];
            Assert.True(await socket.ReceiveAsync(header, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct) > 0);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
