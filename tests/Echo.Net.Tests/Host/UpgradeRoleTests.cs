using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Multistream;
using Echo.Net.ResourceManager;
using Echo.Net.Transport.Tcp;

namespace Echo.Net.Tests.Host;

/// <summary>
/// Connections upgraded over any duplex stream with an explicit role (a relayed circuit, a TCP
/// simultaneous open), and limited connections that carry only allowed protocols.
/// </summary>
public class UpgradeRoleTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    private static Task Bounded(Task task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    private static Multiaddr CircuitTo(PeerId relay) => Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{relay}/p2p-circuit");

    /// <summary>Two raw connections joined by in-memory pipes, as a relayed circuit would join them.</summary>
    private static (PipeRawConnection A, PipeRawConnection B) PipePair(PeerId relay)
    {
        Pipe aToB = new();
        Pipe bToA = new();
        return (new PipeRawConnection(new DuplexPipe(bToA.Reader, aToB.Writer), CircuitTo(relay), CircuitTo(relay)),
                new PipeRawConnection(new DuplexPipe(aToB.Reader, bToA.Writer), CircuitTo(relay), CircuitTo(relay)));
    }

    private static async Task EchoAsync(Libp2pHost from, PeerId to)
    {
        P2PStream stream = await Bounded(from.OpenStreamAsync(to, TestHosts.EchoProtocol, Ct));
        byte[] data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(5000);
        (byte[] hash, long length) = await Bounded(TestHosts.EchoRoundTripAsync(stream, data, Ct));
        Assert.Equal(data.Length, length);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(data), hash);
    }

    [Theory(Timeout = 60_000)]
    [InlineData(ConnectionRole.Initiator)]
    [InlineData(ConnectionRole.Responder)]
    public async Task InMemoryPipes_UpgradeWithTheChosenRoles_AndCarryStreamsBothWays(ConnectionRole aRole)
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        ConnectionRole bRole = aRole == ConnectionRole.Initiator ? ConnectionRole.Responder : ConnectionRole.Initiator;
        Task<IdentifyInfo> aIdentifiesB = TestHosts.Identified(a, b.PeerId);
        (PipeRawConnection rawA, PipeRawConnection rawB) = PipePair(KeyPair.Generate().PeerId);

        // Both sides call it "outbound": the direction is recorded as given, apart from the role.
        Task<Connection> atA = a.AddConnectionAsync(rawA, aRole, ConnectionDirection.Outbound, b.PeerId, null, Ct);
        Task<Connection> atB = b.AddConnectionAsync(rawB, bRole, ConnectionDirection.Inbound, a.PeerId, null, Ct);
        Connection[] both = await Bounded(Task.WhenAll(atA, atB));

        Assert.Equal((aRole, ConnectionDirection.Outbound, b.PeerId), (both[0].Role, both[0].Direction, both[0].RemotePeer));
        Assert.Equal((bRole, ConnectionDirection.Inbound, a.PeerId), (both[1].Role, both[1].Direction, both[1].RemotePeer));
        Assert.Same(both[0], a.GetConnection(b.PeerId));
        Assert.Equal(b.PeerId, (await Bounded(aIdentifiesB)).Peer);
        await EchoAsync(a, b.PeerId);
        await EchoAsync(b, a.PeerId);
    }

    [Fact(Timeout = 60_000)]
    public async Task TcpSocketPair_TheAcceptedSideInitiates()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        using Socket listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        Socket dialer = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await dialer.ConnectAsync(listener.LocalEndPoint!, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Socket accepted = await listener.AcceptAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);

        // a accepted the socket but initiates (as DCUtR's A would on a punched connection); b dialed and responds.
        Task<Connection> atA = a.AddConnectionAsync(new TcpConnection(accepted), ConnectionRole.Initiator, ConnectionDirection.Inbound,
            b.PeerId, null, Ct);
        Task<Connection> atB = b.AddConnectionAsync(new TcpConnection(dialer), ConnectionRole.Responder, ConnectionDirection.Outbound,
            a.PeerId, null, Ct);
        Connection[] both = await Bounded(Task.WhenAll(atA, atB));

        Assert.Equal((ConnectionRole.Initiator, ConnectionDirection.Inbound), (both[0].Role, both[0].Direction));
        Assert.Equal((ConnectionRole.Responder, ConnectionDirection.Outbound), (both[1].Role, both[1].Direction));
        Assert.Equal(both[1].LocalAddress, both[0].RemoteAddress.WithoutPeerId());
        Assert.True(await Bounded(a.PingAsync(b.PeerId, Ct)) > TimeSpan.Zero);
        Assert.True(await Bounded(b.PingAsync(a.PeerId, Ct)) > TimeSpan.Zero);
        await EchoAsync(a, b.PeerId);
        await EchoAsync(b, a.PeerId);
    }

    [Fact(Timeout = 60_000)]
    public async Task ExpectedPeer_IsCheckedOnTheResponderToo()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        PeerId someoneElse = KeyPair.Generate().PeerId;
        (PipeRawConnection rawA, PipeRawConnection rawB) = PipePair(someoneElse);

        Task<Connection> atA = a.AddConnectionAsync(rawA, ConnectionRole.Initiator, ConnectionDirection.Outbound, b.PeerId, null, Ct);
        Task<Connection> atB = b.AddConnectionAsync(rawB, ConnectionRole.Responder, ConnectionDirection.Inbound, someoneElse, null, Ct);

        DialFailedException e = await Assert.ThrowsAsync<DialFailedException>(() => Bounded(atB));
        Assert.Contains("peer id mismatch", e.Message);
        await Assert.ThrowsAnyAsync<Exception>(() => Bounded(atA));
        Assert.Null(b.GetConnection(a.PeerId));
    }

    [Fact(Timeout = 60_000)]
    public async Task LimitedConnection_RefusesOtherProtocolsBothWays_AllowsIdentifyPingAndOptedIn()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        ConnectionLimit limit = new(TimeSpan.FromMinutes(2), 128 * 1024);
        Task<IdentifyInfo> aIdentifiesB = TestHosts.Identified(a, b.PeerId);
        Task<IdentifyInfo> bIdentifiesA = TestHosts.Identified(b, a.PeerId);
        (PipeRawConnection rawA, PipeRawConnection rawB) = PipePair(KeyPair.Generate().PeerId);

        // Only a's end is marked limited: b's streams reach a's inbound check unfiltered.
        Task<Connection> atA = a.AddConnectionAsync(rawA, ConnectionRole.Initiator, ConnectionDirection.Outbound, b.PeerId, limit, Ct);
        Task<Connection> atB = b.AddConnectionAsync(rawB, ConnectionRole.Responder, ConnectionDirection.Inbound, a.PeerId, null, Ct);
        Connection[] both = await Bounded(Task.WhenAll(atA, atB));
        Assert.True(both[0].IsLimited);
        Assert.Equal(limit, both[0].Limit);
        Assert.False(both[1].IsLimited);

        // Identify ran both ways and ping works both ways.
        Assert.Equal(b.PeerId, (await Bounded(aIdentifiesB)).Peer);
        Assert.Equal(a.PeerId, (await Bounded(bIdentifiesA)).Peer);
        Assert.True(await Bounded(a.PingAsync(b.PeerId, Ct)) > TimeSpan.Zero);
        Assert.True(await Bounded(b.PingAsync(a.PeerId, Ct)) > TimeSpan.Zero);

        // Outbound: refused before anything is sent, with the reason, and counted.
        LimitedConnectionException outbound = await Assert.ThrowsAsync<LimitedConnectionException>(
            () => Bounded(a.OpenStreamAsync(b.PeerId, TestHosts.EchoProtocol, Ct)));
        Assert.Contains("limited", outbound.Message);
        Assert.Equal(TestHosts.EchoProtocol, outbound.Protocol);
        Assert.Equal(1, a.ResourceSnapshot().Refused[LimitKind.LimitedConnection]);

        // Inbound: a answers "na" to a protocol it serves but may not use here, and counts it.
        await Assert.ThrowsAsync<ProtocolNotSupportedException>(() => Bounded(b.OpenStreamAsync(a.PeerId, TestHosts.EchoProtocol, Ct)));
        Assert.Equal(2, a.ResourceSnapshot().Refused[LimitKind.LimitedConnection]);
        Assert.Equal(0, b.ResourceSnapshot().Refused[LimitKind.LimitedConnection]);

        // Opted in: the protocol may use limited connections, both ways.
        a.SetStreamHandler(TestHosts.EchoProtocol, TestHosts.EchoAsync, allowOnLimited: true);
        Assert.True(a.IsAllowedOnLimited(TestHosts.EchoProtocol));
        await EchoAsync(a, b.PeerId);
        await EchoAsync(b, a.PeerId);
        Assert.Equal(2, a.ResourceSnapshot().Refused[LimitKind.LimitedConnection]);
    }
}
