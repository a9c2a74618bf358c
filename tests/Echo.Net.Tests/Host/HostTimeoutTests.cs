using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Multistream;
using Echo.Net.ResourceManager;
using Echo.Net.Transport.Tcp;
using Echo.Net.Yamux;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Host;

/// <summary>
/// L-conn-timeouts: the dial, the inbound handshake and a stream's protocol negotiation each get
/// 10 s on the host's clock. A fake clock moves to one tick before the limit (the peer then finishes
/// and is served) and to the limit (the host gives up).
/// </summary>
public sealed class HostTimeoutTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan JustBefore = Limit - TimeSpan.FromTicks(1);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(20), Ct);

    private static async Task<Libp2pHost> StartAsync(TimeProvider time, bool listen = true)
    {
        HostOptions options = new() { ListenAddresses = listen ? [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] : [] };
        Libp2pHost host = new(KeyPair.Generate(), options, NullLoggerFactory.Instance, time);
        host.SetStreamHandler(TestHosts.EchoProtocol, TestHosts.EchoAsync);
        await host.StartAsync(Ct);
        return host;
    }

    /// <summary>Waits for the dialer's first bytes on <paramref name="socket"/>: connected, it is in its handshake.</summary>
    private static async Task HandshakeStartedAsync(Socket socket, SocketFlags flags)
    {
        byte[] buffer = new byte[1];
        int n = await socket.ReceiveAsync(buffer, flags, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(1, n);
    }

    /// <summary>A multistream message: its length, the text and a newline.</summary>
    private static byte[] Line(string text)
    {
        byte[] body = System.Text.Encoding.UTF8.GetBytes(text + "\n");
        return [(byte)body.Length, .. body];
    }

    /// <summary>Reads exactly <paramref name="expected"/> from <paramref name="input"/>; bounded.</summary>
    private static async Task ExpectAsync(PipeReader input, byte[] expected)
    {
        byte[] got = await input.ReadExactlyAsync(expected.Length, "test", Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct)
            ?? throw new IOException("the stream ended");
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(got));
    }

    /// <summary>Completes when <paramref name="input"/> ends or fails (closed or reset by the remote); bounded.</summary>
    private static async Task EndsAsync(PipeReader input)
    {
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(20));
        try
        {
            while (true)
            {
                ReadResult result = await input.ReadAsync(bound.Token);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                    return;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task HandshakeTimeout_AnInboundHandshakeFinishingOneTickBeforeTenSecondsIsServed_AtTenItIsClosedAndCounted()
    {
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        await using Libp2pHost server = await StartAsync(time);
        Assert.Equal(Limit, server.Options.HandshakeTimeout);
        await using Libp2pHost client = await TestHosts.StartAsync();

        // A socket that says nothing for 10 s less a tick, then completes its handshake: served.
        TcpConnection slow = await TcpTransport.DialAsync(server.ListenAddresses[0], Ct);
        await TestHosts.WaitUntilAsync(() => server.ResourceSnapshot().PendingHandshakes == 1, "the server accepted the slow socket");
        time.Advance(JustBefore);
        await Bounded(client.AddConnectionAsync(slow, ConnectionRole.Initiator, ConnectionDirection.Outbound,
            server.PeerId, null, Ct));
        Assert.True(await Bounded(client.PingAsync(server.PeerId, Ct)) > TimeSpan.Zero);

        // A socket that says nothing at all: closed when the clock reaches 10 s, and counted.
        TcpConnection stalled = await TcpTransport.DialAsync(server.ListenAddresses[0], Ct);
        try
        {
            await TestHosts.WaitUntilAsync(() => server.ResourceSnapshot().PendingHandshakes == 1, "the server accepted the stalled socket");
            time.Advance(JustBefore);
            Assert.Equal(0, server.ResourceSnapshot().Refused[LimitKind.HandshakeTimeout]);
            time.Advance(TimeSpan.FromTicks(1));
            await EndsAsync(stalled.Input);
            await TestHosts.WaitUntilAsync(() => server.ResourceSnapshot().Refused[LimitKind.HandshakeTimeout] == 1,
                "the timed-out handshake is counted");
        }
        finally
        {
            await stalled.DisposeAsync();
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task DialTimeout_AnAnswerOneTickBeforeTenSecondsConnects_AtTenTheDialFails()
    {
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        await using Libp2pHost dialer = await StartAsync(time, listen: false);
        Assert.Equal(Limit, dialer.Options.DialTimeout);
        await using Libp2pHost late = await TestHosts.StartAsync();
        using Socket listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(4);
        Multiaddr address = Multiaddr.FromTcpEndPoint((IPEndPoint)listener.LocalEndPoint!);

        // The peer takes the socket but answers only when the dialer's clock is a tick short of 10 s.
        Task<Connection> dial = dialer.DialAsync(address.WithPeerId(late.PeerId), Ct);
        Socket accepted = await listener.AcceptAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await HandshakeStartedAsync(accepted, SocketFlags.Peek);
        time.Advance(JustBefore);
        await Bounded(late.AddConnectionAsync(new TcpConnection(accepted), ConnectionRole.Responder, ConnectionDirection.Inbound,
            dialer.PeerId, null, Ct));
        Connection connection = await Bounded(dial);
        Assert.Equal(late.PeerId, connection.RemotePeer);

        // A peer that never answers: the dial fails when the clock reaches 10 s.
        using KeyPair silent = KeyPair.Generate();
        Task<Connection> unanswered = dialer.DialAsync(address.WithPeerId(silent.PeerId), Ct);
        using Socket held = await listener.AcceptAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await HandshakeStartedAsync(held, SocketFlags.None);
        time.Advance(JustBefore);
        Assert.False(unanswered.IsCompleted);
        time.Advance(TimeSpan.FromTicks(1));
        DialFailedException failed = await Assert.ThrowsAsync<DialFailedException>(() => Bounded(unanswered));
        Assert.Equal("handshake not finished within 10 s", failed.Reason);
    }

    [Fact(Timeout = 60_000)]
    public async Task StreamNegotiationTimeout_AProposalOneTickBeforeTenSecondsIsServed_AtTenTheStreamIsReset()
    {
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        await using Libp2pHost server = await StartAsync(time);
        Assert.Equal(Limit, server.Options.StreamNegotiationTimeout);
        // A peer that drives yamux by hand, so it can open a stream and say nothing on it.
        using KeyPair identity = KeyPair.Generate();
        TcpConnection tcp = await TcpTransport.DialAsync(server.ListenAddresses[0], Ct);
        (Echo.Net.Noise.NoiseSecureChannel channel, YamuxSession session) = await Bounded(ConnectionUpgrader.UpgradeAsync(tcp,
            ConnectionRole.Initiator, identity, server.PeerId, new YamuxOptions(), TimeProvider.System, NullLoggerFactory.Instance, Ct));
        session.Start();
        await using (channel)
        await using (session)
        {
            // Sends the multistream header (the server answers with its own) and no proposal until a
            // tick before 10 s: then the echo protocol is agreed and served.
            YamuxStream slow = await session.OpenStreamAsync(Ct);
            await slow.Output.WriteAsync(Line(MultistreamSelect.ProtocolId), Ct);
            await ExpectAsync(slow.Input, Line(MultistreamSelect.ProtocolId));
            time.Advance(JustBefore);
            await slow.Output.WriteAsync(Line(TestHosts.EchoProtocol), Ct);
            await ExpectAsync(slow.Input, Line(TestHosts.EchoProtocol));
            await slow.Output.WriteAsync("ping"u8.ToArray(), Ct);
            await slow.Output.CompleteAsync();
            await ExpectAsync(slow.Input, "ping"u8.ToArray());

            // No proposal by 10 s: reset by the server.
            YamuxStream quiet = await session.OpenStreamAsync(Ct);
            await quiet.Output.WriteAsync(Line(MultistreamSelect.ProtocolId), Ct);
            await ExpectAsync(quiet.Input, Line(MultistreamSelect.ProtocolId));
            time.Advance(JustBefore);
            time.Advance(TimeSpan.FromTicks(1));
            await Assert.ThrowsAnyAsync<IOException>(async () =>
            {
                using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
                bound.CancelAfter(TimeSpan.FromSeconds(20));
                while (true)
                {
                    ReadResult result = await quiet.Input.ReadAsync(bound.Token);
                    quiet.Input.AdvanceTo(result.Buffer.End);
                    Assert.False(result.IsCompleted, "the server half-closed instead of resetting");
                }
            });
            Assert.False(session.Closed.IsCancellationRequested);
        }
    }
}
