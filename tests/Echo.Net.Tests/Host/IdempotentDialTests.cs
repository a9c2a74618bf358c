using System.Net;
using System.Net.Sockets;
using Echo.Net.Host;
using Echo.Net.Multiformats;

namespace Echo.Net.Tests.Host;

/// <summary>A dial to a peer we are connected to keeps that connection; a dial to ourselves is refused.</summary>
public class IdempotentDialTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    [Fact(Timeout = 60_000)]
    public async Task DialAgain_WithoutPeerId_KeepsTheConnectionAtBothEnds()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        Task<Connection> aSeesB = TestHosts.NextConnected(a, b.PeerId);
        Connection first = await Bounded(b.DialAsync(TestHosts.AddressOf(a), Ct));
        Connection inbound = await Bounded(aSeesB);
        int disconnects = 0;
        a.PeerDisconnected += _ => Interlocked.Increment(ref disconnects);
        b.PeerDisconnected += _ => Interlocked.Increment(ref disconnects);

        for (int i = 0; i < 5; i++)
        {
            Connection again = await Bounded(b.DialAsync(a.ListenAddresses[0], Ct));   // the README's form: no /p2p/
            Assert.Same(first, again);
        }

        Assert.False(first.IsClosed);
        Assert.False(inbound.IsClosed);
        Assert.Same(first, b.GetConnection(a.PeerId));
        Assert.Same(inbound, a.GetConnection(b.PeerId));
        Assert.Single(b.Connections);
        Assert.Single(a.Connections);
        Assert.Equal(0, Volatile.Read(ref disconnects));
        // And the kept connection still carries streams.
        P2PStream stream = await Bounded(b.OpenStreamAsync(a.PeerId, TestHosts.EchoProtocol, Ct));
        (_, long length) = await TestHosts.EchoRoundTripAsync(stream, new byte[1000], Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(1000, length);
    }

    [Fact(Timeout = 60_000)]
    public async Task DialOfAPeerAtAWorkingAddress_DoesNotWaitForAPendingDialOfItAtOneThatStalls()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync(new HostOptions { DialTimeout = TimeSpan.FromSeconds(20) });
        // Accepts TCP and then says nothing: a handshake there waits for the dial timeout.
        using Socket stalling = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        stalling.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        stalling.Listen(8);
        Multiaddr stalled = Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{((IPEndPoint)stalling.LocalEndPoint!).Port}/p2p/{a.PeerId}");

        Task<Connection> pending = b.DialAsync(stalled, Ct);
        Connection connection = await b.DialAsync(TestHosts.AddressOf(a), Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);

        Assert.Equal(a.PeerId, connection.RemotePeer);
        Assert.False(pending.IsCompleted);
        stalling.Close();
        // The stalled dial ends with the listener's reset: a failure of that address, or the connection
        // the peer has by then; never a second one.
        Exception? failure = await Record.ExceptionAsync(async () => Assert.Same(connection, await pending.WaitAsync(TimeSpan.FromSeconds(30), Ct)));
        Assert.True(failure is null or DialFailedException, failure?.ToString());
        Assert.Same(connection, b.GetConnection(a.PeerId));
        Assert.Single(b.Connections);
    }

    [Fact(Timeout = 60_000)]
    public async Task DialBack_WithoutPeerId_FromTheAcceptingSide_ReturnsTheInboundConnection()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        Task<Connection> aSeesB = TestHosts.NextConnected(a, b.PeerId);
        Connection outbound = await Bounded(b.DialAsync(TestHosts.AddressOf(a), Ct));
        Connection inbound = await Bounded(aSeesB);

        Connection back = await Bounded(a.DialAsync(b.ListenAddresses[0], Ct));

        Assert.Same(inbound, back);
        Assert.False(outbound.IsClosed);
        Assert.Same(outbound, b.GetConnection(a.PeerId));
    }

    [Fact(Timeout = 60_000)]
    public async Task Dial_OwnListenAddressOrId_IsRefused()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();

        DialFailedException byAddress = await Assert.ThrowsAsync<DialFailedException>(() => a.DialAsync(a.ListenAddresses[0], Ct));
        Assert.Contains("our own address", byAddress.Reason);
        DialFailedException byId = await Assert.ThrowsAsync<DialFailedException>(() => a.DialAsync(TestHosts.AddressOf(a), Ct));
        Assert.Contains("our own peer id", byId.Reason);
        Assert.Empty(a.Connections);
    }

    [Fact(Timeout = 60_000)]
    public async Task Dial_LoopbackOfAnUnspecifiedListenAddress_IsRefused()
    {
        await using Libp2pHost a = await TestHosts.StartAsync(listen: "/ip4/0.0.0.0/tcp/0");
        int port = a.ListenAddresses[0].TryGetTcpEndPoint(out IPEndPoint? endPoint) ? endPoint!.Port : 0;

        DialFailedException refused = await Assert.ThrowsAsync<DialFailedException>(
            () => a.DialAsync(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{port}"), Ct));
        Assert.Contains("our own address", refused.Reason);
    }

    [Fact(Timeout = 60_000)]
    public async Task Dial_ThatReachesUsThroughARelay_IsRefusedInTheHandshake()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        a.ListenAddresses[0].TryGetTcpEndPoint(out IPEndPoint? target);
        await using TcpRelay relay = TcpRelay.Start(target!);
        int connected = 0;
        a.PeerConnected += _ => Interlocked.Increment(ref connected);

        DialFailedException refused = await Assert.ThrowsAsync<DialFailedException>(
            () => a.DialAsync(Multiaddr.FromTcpEndPoint(relay.EndPoint), Ct));

        Assert.Contains("our own", refused.Reason);
        Assert.Empty(a.Connections);
        Assert.Equal(0, Volatile.Read(ref connected));
    }

    /// <summary>Forwards every connection on a loopback port to <c>target</c>: an address of ours the host cannot recognise.</summary>
    private sealed class TcpRelay : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly IPEndPoint _target;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Task> _tasks = [];
        private readonly List<TcpClient> _clients = [];

        private TcpRelay(IPEndPoint target)
        {
            _target = target;
            _listener = new TcpListener(IPAddress.Loopback, 0);
        }

        public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

        public static TcpRelay Start(IPEndPoint target)
        {
            TcpRelay relay = new(target);
            relay._listener.Start();
            relay._tasks.Add(relay.AcceptAsync());
            return relay;
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    TcpClient inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
                    TcpClient outbound = new();
                    lock (_clients)
                        _clients.AddRange([inbound, outbound]);
                    await outbound.ConnectAsync(_target, _stop.Token);
                    lock (_tasks)
                    {
                        _tasks.Add(PumpAsync(inbound, outbound));
                        _tasks.Add(PumpAsync(outbound, inbound));
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        private async Task PumpAsync(TcpClient from, TcpClient to)
        {
            // The socket itself: disposing the client (as DisposeAsync may meanwhile) clears TcpClient.Client.
            Socket target = to.Client;
            try
            {
                await from.GetStream().CopyToAsync(to.GetStream(), _stop.Token);
                target.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            lock (_clients)
            {
                foreach (TcpClient client in _clients)
                    client.Dispose();
            }
            Task[] tasks;
            lock (_tasks)
                tasks = [.. _tasks];
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(10));
            _stop.Dispose();
        }
    }
}
