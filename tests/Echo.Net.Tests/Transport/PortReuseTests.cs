using System.Net;
using System.Net.Sockets;
using Echo.Net.Host;
using Echo.Net.Multiformats;
using Echo.Net.Transport.Tcp;

namespace Echo.Net.Tests.Transport;

/// <summary>Dials from the listening port (SO_REUSEPORT), with the ephemeral fallback and the no-reuse option.</summary>
public class PortReuseTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    private static int PortOf(Multiaddr address)
    {
        Assert.True(address.TryGetTcpEndPoint(out IPEndPoint? endPoint));
        return endPoint!.Port;
    }

    [Fact(Timeout = 60_000)]
    public async Task Dial_ComesFromTheListeningPort()
    {
        Assert.SkipUnless(TcpTransport.PortReuseSupported, "port reuse is Linux only");
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        Task<Connection> aSeesB = TestHosts.NextConnected(a, b.PeerId);

        Connection dialed = await Bounded(b.DialAsync(TestHosts.AddressOf(a), Ct));

        Assert.Equal(PortOf(b.ListenAddresses[0]), PortOf(dialed.LocalAddress));
        Assert.Equal(PortOf(b.ListenAddresses[0]), PortOf((await Bounded(aSeesB)).RemoteAddress));
        Assert.True(await Bounded(b.PingAsync(a.PeerId, Ct)) > TimeSpan.Zero);
    }

    [Fact(Timeout = 60_000)]
    public async Task Dial_WithoutReuse_ComesFromAnEphemeralPort()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost b = await TestHosts.StartAsync();
        Task<Connection> aSeesB = TestHosts.NextConnected(a, b.PeerId);

        Connection dialed = await Bounded(b.DialAsync(TestHosts.AddressOf(a), new DialOptions { ReusePort = false }, Ct));

        Assert.NotEqual(PortOf(b.ListenAddresses[0]), PortOf(dialed.LocalAddress));
        Assert.NotEqual(PortOf(b.ListenAddresses[0]), PortOf((await Bounded(aSeesB)).RemoteAddress));
    }

    [Fact(Timeout = 60_000)]
    public async Task SecondDial_ToAnAlreadyConnectedFourTuple_FallsBackToAnEphemeralPort()
    {
        Assert.SkipUnless(TcpTransport.PortReuseSupported, "port reuse is Linux only");
        Multiaddr any = Multiaddr.Parse("/ip4/127.0.0.1/tcp/0");
        using Socket ours = TcpTransport.Listen(any, 8);
        using Socket theirs = TcpTransport.Listen(any, 8);
        IPEndPoint ourPort = (IPEndPoint)ours.LocalEndPoint!;
        Multiaddr target = Multiaddr.FromTcpEndPoint((IPEndPoint)theirs.LocalEndPoint!);

        await using TcpConnection first = await Bounded(TcpTransport.DialAsync(target, Ct, _ => ourPort));
        using Socket firstAccepted = await theirs.AcceptAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await using TcpConnection second = await Bounded(TcpTransport.DialAsync(target, Ct, _ => ourPort));
        using Socket secondAccepted = await theirs.AcceptAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);

        Assert.Equal(ourPort.Port, PortOf(first.LocalAddress));
        Assert.Equal(ourPort.Port, ((IPEndPoint)firstAccepted.RemoteEndPoint!).Port);
        Assert.NotEqual(ourPort.Port, PortOf(second.LocalAddress));
        Assert.Equal(PortOf(second.LocalAddress), ((IPEndPoint)secondAccepted.RemoteEndPoint!).Port);
        // Both carry bytes.
        await first.Output.WriteAsync("1"u8.ToArray(), Ct);
        await second.Output.WriteAsync("2"u8.ToArray(), Ct);
        byte[] buffer = new byte[1];
        Assert.Equal(1, await firstAccepted.ReceiveAsync(buffer, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Equal((byte)'1', buffer[0]);
        Assert.Equal(1, await secondAccepted.ReceiveAsync(buffer, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Equal((byte)'2', buffer[0]);
    }

    [Fact(Timeout = 60_000)]
    public async Task Listener_WithPortReuse_StillRefusesAPortAnotherListenerHolds()
    {
        await using Libp2pHost a = await TestHosts.StartAsync();
        await using Libp2pHost dialer = await TestHosts.StartAsync();
        await Bounded(dialer.DialAsync(TestHosts.AddressOf(a), Ct));       // our own dialed socket shares dialer's port

        ListenFailedException e = await Assert.ThrowsAsync<ListenFailedException>(
            () => TestHosts.StartAsync(new HostOptions { ListenAddresses = [dialer.ListenAddresses[0]] }));
        Assert.Contains("already in use", e.Message);
    }
}
