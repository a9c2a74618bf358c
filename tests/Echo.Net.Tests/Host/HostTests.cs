using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Multistream;

namespace Echo.Net.Tests.Host;

public class HostTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    private static Task Bounded(Task task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    [Fact(Timeout = 60_000)]
    public async Task Dial_WithPeerId_BothSidesConnectAndIdentify()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync(new HostOptions { AgentVersion = "test-agent/1" });
        Task<Connection> aSeesB = TestHosts.NextConnected(a, b.PeerId);
        Task<IdentifyInfo> aIdentifiesB = TestHosts.Identified(a, b.PeerId);
        Task<IdentifyInfo> bIdentifiesA = TestHosts.Identified(b, a.PeerId);

        Connection connection = await Bounded(b.DialAsync(TestHosts.AddressOf(a), Ct));

        Assert.Equal(a.PeerId, connection.RemotePeer);
        Assert.Equal(ConnectionDirection.Outbound, connection.Direction);
        Connection inbound = await Bounded(aSeesB);
        Assert.Equal(ConnectionDirection.Inbound, inbound.Direction);
        IdentifyInfo aboutB = await Bounded(aIdentifiesB);
        Assert.Equal("test-agent/1", aboutB.AgentVersion);
        Assert.Contains(b.ListenAddresses[0], aboutB.ListenAddresses);
        IdentifyInfo aboutA = await Bounded(bIdentifiesA);
        Assert.Contains("/ipfs/ping/1.0.0", aboutA.Protocols);
        Assert.Contains("/ipfs/id/1.0.0", aboutA.Protocols);
        Assert.Contains(TestHosts.EchoProtocol, aboutA.Protocols);
        Assert.Equal(aboutA, b.PeerStore.Get(a.PeerId));
    }

    [Fact(Timeout = 60_000)]
    public async Task Dial_WithoutPeerId_LearnsTheIdFromTheHandshake()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        Connection connection = await Bounded(b.DialAsync(a.ListenAddresses[0], Ct));
        Assert.Equal(a.PeerId, connection.RemotePeer);
        Assert.Same(connection, b.GetConnection(a.PeerId));
    }

    [Fact(Timeout = 60_000)]
    public async Task Dial_Twice_ReusesTheConnection()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        Task<Connection>[] dials = [.. Enumerable.Range(0, 5).Select(_ => b.DialAsync(TestHosts.AddressOf(a), Ct))];
        Connection[] connections = await Bounded(Task.WhenAll(dials));
        Assert.All(connections, c => Assert.Same(connections[0], c));
        Assert.Same(connections[0], await Bounded(b.DialAsync(TestHosts.AddressOf(a), Ct)));
        Assert.Single(b.Connections);
    }

    [Fact(Timeout = 60_000)]
    public async Task Ping_ConnectedPeer_ReturnsRoundTripTime()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        await Bounded(b.DialAsync(TestHosts.AddressOf(a), Ct));
        TimeSpan rtt = await Bounded(b.PingAsync(a.PeerId, Ct));
        Assert.True(rtt > TimeSpan.Zero && rtt < TimeSpan.FromSeconds(10), $"rtt {rtt}");
    }

    [Fact(Timeout = 60_000)]
    public async Task Echo_64MiBOnOneStream_ArrivesWithTheSameHash()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        await Bounded(b.DialAsync(TestHosts.AddressOf(a), Ct));
        byte[] data = RandomNumberGenerator.GetBytes(64 << 20);
        P2PStream stream = await Bounded(b.OpenStreamAsync(a.PeerId, TestHosts.EchoProtocol, Ct));
        (byte[] hash, long length) = await TestHosts.EchoRoundTripAsync(stream, data, Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);
        Assert.Equal(data.Length, length);
        Assert.Equal(SHA256.HashData(data), hash);
    }

    [Fact(Timeout = 60_000)]
    public async Task OpenStream_100Concurrent_AllComplete()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        await Bounded(b.DialAsync(TestHosts.AddressOf(a), Ct));
        byte[][] payloads = [.. Enumerable.Range(0, 100).Select(_ => RandomNumberGenerator.GetBytes(64 * 1024))];
        bool[] results = await Bounded(Task.WhenAll(payloads.Select(async p =>
        {
            P2PStream s = await b.OpenStreamAsync(a.PeerId, TestHosts.EchoProtocol, Ct);
            (byte[] hash, _) = await TestHosts.EchoRoundTripAsync(s, p, Ct);
            return hash.AsSpan().SequenceEqual(SHA256.HashData(p));
        })));
        Assert.All(results, Assert.True);
    }

    [Fact(Timeout = 60_000)]
    public async Task OpenStream_UnsupportedProtocol_ThrowsNotSupported()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        await Bounded(b.DialAsync(TestHosts.AddressOf(a), Ct));
        await Assert.ThrowsAsync<ProtocolNotSupportedException>(() => Bounded(b.OpenStreamAsync(a.PeerId, "/nope/1.0.0", Ct)));
        Assert.True(await Bounded(b.PingAsync(a.PeerId, Ct)) > TimeSpan.Zero);   // the connection lives on
    }

    [Fact(Timeout = 60_000)]
    public async Task Dial_WrongPeerId_SaysWhichIdAnswered()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        using KeyPair other = KeyPair.Generate();
        Multiaddr wrong = a.ListenAddresses[0].WithPeerId(other.PeerId);
        DialFailedException e = await Assert.ThrowsAsync<DialFailedException>(() => Bounded(b.DialAsync(wrong, Ct)));
        Assert.Contains($"expected {other.PeerId}, got {a.PeerId}", e.Message);
        Assert.Empty(b.Connections);
    }

    [Fact(Timeout = 60_000)]
    public async Task Dial_NothingListening_SaysRefused()
    {
        using Socket probe = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)probe.LocalEndPoint!).Port;      // bound but not listening: connects are refused
        await using Libp2pHost b = await TestHosts.StartAsync();
        DialFailedException e = await Assert.ThrowsAsync<DialFailedException>(
            () => Bounded(b.DialAsync(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{port}"), Ct)));
        Assert.Contains("refused", e.Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task Dial_OwnPeerId_Refuses()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        DialFailedException e = await Assert.ThrowsAsync<DialFailedException>(() => Bounded(a.DialAsync(TestHosts.AddressOf(a), Ct)));
        Assert.Contains("own peer id", e.Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task Start_PortInUse_SaysSo()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        ListenFailedException e = await Assert.ThrowsAsync<ListenFailedException>(
            () => TestHosts.StartAsync(new HostOptions { ListenAddresses = [a.ListenAddresses[0]] }));
        Assert.Contains("already in use", e.Message);
    }

    [Fact(Timeout = 60_000)]
    public async Task Listen_IPv6Loopback_DialsAndPings()
    {
        await using Libp2pHost a = await TestHosts.StartAsync(listen: "/ip6/::1/tcp/0");
        await using Libp2pHost b = await TestHosts.StartAsync(listen: "/ip6/::1/tcp/0");
        Assert.StartsWith("/ip6/::1/tcp/", a.ListenAddresses[0].ToString());
        await Bounded(b.DialAsync(TestHosts.AddressOf(a), Ct));
        Assert.True(await Bounded(b.PingAsync(a.PeerId, Ct)) > TimeSpan.Zero);
    }

    [Fact(Timeout = 60_000)]
    public async Task SimultaneousDial_BothSidesKeepTheSameSingleConnection()
    {
        for (int round = 0; round < 5; round++)
        {
            await using Libp2pHost a = await TestHosts.StartAsync();
            await using Libp2pHost b = await TestHosts.StartAsync();
            Task<Connection> ab = a.DialAsync(TestHosts.AddressOf(b), Ct);
            Task<Connection> ba = b.DialAsync(TestHosts.AddressOf(a), Ct);
            Connection[] both = await Bounded(Task.WhenAll(ab, ba));

            // A dial may return the connection that then loses the tie-break; within moments each
            // side keeps exactly one, and it is the same TCP connection seen from both ends.
            await TestHosts.WaitUntilAsync(() => a.Connections.Count == 1 && b.Connections.Count == 1
                && a.Connections[0].LocalAddress == b.Connections[0].RemoteAddress.WithoutPeerId()
                && b.Connections[0].LocalAddress == a.Connections[0].RemoteAddress.WithoutPeerId(), "one shared connection");
            Connection kept = a.Connections[0];
            Assert.Equal(a.PeerId.Bytes.SequenceCompareTo(b.PeerId.Bytes) < 0 ? ConnectionDirection.Outbound : ConnectionDirection.Inbound,
                kept.Direction);                          // dialed by the smaller peer id
            // A dial that returned the losing connection sees it closed (the close runs in the background).
            await TestHosts.WaitUntilAsync(() => both.All(c => c == kept || c == b.Connections[0] || c.IsClosed), "the losing connection closed");
            Assert.True(await Bounded(a.PingAsync(b.PeerId, Ct)) > TimeSpan.Zero);
            Assert.True(await Bounded(b.PingAsync(a.PeerId, Ct)) > TimeSpan.Zero);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Dispose_RemoteSeesTheDisconnect()
    {
        Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        await Bounded(b.DialAsync(TestHosts.AddressOf(a), Ct));
        Task<Connection> gone = TestHosts.NextDisconnected(b, a.PeerId);
        await a.DisposeAsync();
        await Bounded(gone);
        Assert.Null(b.GetConnection(a.PeerId));
    }

    [Fact(Timeout = 60_000)]
    public async Task PeerKilledMidTransfer_HostKeepsServingAThirdPeer()
    {
        await using Libp2pHost server = await TestHosts.StartAsync();
        Libp2pHost victim = await TestHosts.StartAsync();
        await using Libp2pHost third = await TestHosts.StartAsync();
        await Bounded(victim.DialAsync(TestHosts.AddressOf(server), Ct));
        Task<Connection> serverLosesVictim = TestHosts.NextDisconnected(server, victim.PeerId);

        // Start a transfer the victim will never finish (less than one window, so the write completes
        // although nobody reads the echo), then cut its sockets as a killed process would.
        P2PStream stream = await Bounded(victim.OpenStreamAsync(server.PeerId, TestHosts.EchoProtocol, Ct));
        await stream.Output.WriteAsync(RandomNumberGenerator.GetBytes(128 * 1024), Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Ct);
        foreach (Connection c in victim.Connections)
            c.AbortForTest();
        await Bounded(serverLosesVictim);

        await Bounded(third.DialAsync(TestHosts.AddressOf(server), Ct));
        byte[] data = RandomNumberGenerator.GetBytes(4 << 20);
        P2PStream s = await Bounded(third.OpenStreamAsync(server.PeerId, TestHosts.EchoProtocol, Ct));
        (byte[] hash, _) = await Bounded(TestHosts.EchoRoundTripAsync(s, data, Ct));
        Assert.Equal(SHA256.HashData(data), hash);
        await victim.DisposeAsync();
    }

    [Fact(Timeout = 60_000)]
    public async Task GarbagePeer_LosesOnlyItsConnection()
    {
        await using Libp2pHost server = await TestHosts.StartAsync();
        IPEndPoint endPoint = ServerEndPoint(server);
        using (Socket garbage = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await garbage.ConnectAsync(endPoint, Ct);
            await garbage.SendAsync(RandomNumberGenerator.GetBytes(4096), Ct);
            byte[] buffer = new byte[8192];
            // The server answers its multistream header, then closes on the garbage.
            int total = 0, n;
            using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            bound.CancelAfter(TimeSpan.FromSeconds(15));
            while ((n = await garbage.ReceiveAsync(buffer, bound.Token)) > 0)
                total += n;
            Assert.True(total < 100, $"server sent {total} bytes to a garbage peer");
        }
        await using Libp2pHost honest = await TestHosts.StartAsync();
        await Bounded(honest.DialAsync(TestHosts.AddressOf(server), Ct));
        Assert.True(await Bounded(honest.PingAsync(server.PeerId, Ct)) > TimeSpan.Zero);
    }

    [Fact(Timeout = 60_000)]
    public async Task GoStyleDialer_TlsProposalGetsNaThenNoiseIsAccepted()
    {
        await using Libp2pHost server = await TestHosts.StartAsync();
        using Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(ServerEndPoint(server), Ct);
        // go proposes /tls/1.0.0 first, then /noise, all pipelined with its header.
        byte[] hello = [.. Line("/multistream/1.0.0"), .. Line("/tls/1.0.0"), .. Line("/noise")];
        await socket.SendAsync(hello, Ct);
        byte[] expected = [.. Line("/multistream/1.0.0"), .. Line("na"), .. Line("/noise")];
        byte[] received = new byte[expected.Length];
        int got = 0;
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(10));
        while (got < received.Length)
        {
            int n = await socket.ReceiveAsync(received.AsMemory(got), bound.Token);
            Assert.NotEqual(0, n);
            got += n;
        }
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(received));
    }

    [Fact(Timeout = 60_000)]
    public async Task PendingHandshakeLimit_RefusesExtraStalledConnections()
    {
        await using Libp2pHost server = await TestHosts.StartAsync(new HostOptions { MaxPendingInboundConnections = 2 });
        IPEndPoint endPoint = ServerEndPoint(server);
        List<Socket> stalled = [];
        try
        {
            for (int i = 0; i < 2; i++)
            {
                Socket s = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await s.ConnectAsync(endPoint, Ct);
                stalled.Add(s);
                // Wait until the server has taken it in (it writes its multistream header).
                byte[] header = new byte[20];
                Assert.True(await s.ReceiveAsync(header, Ct) > 0);
            }
            using Socket extra = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await extra.ConnectAsync(endPoint, Ct);
            byte[] buffer = new byte[64];
            using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            bound.CancelAfter(TimeSpan.FromSeconds(10));
            int n;
            try
            {
                n = await extra.ReceiveAsync(buffer, bound.Token);
            }
            catch (SocketException)
            {
                n = 0;                      // reset: refused just the same
            }
            Assert.Equal(0, n);             // closed without a byte
        }
        finally
        {
            foreach (Socket s in stalled)
                s.Dispose();
        }
    }

    private static IPEndPoint ServerEndPoint(Libp2pHost host)
    {
        Assert.True(host.ListenAddresses[0].TryGetTcpEndPoint(out IPEndPoint? endPoint));
        return endPoint!;
    }

    private static byte[] Line(string text)
    {
        byte[] body = Encoding.UTF8.GetBytes(text + "\n");
        return [(byte)body.Length, .. body];
    }
}
