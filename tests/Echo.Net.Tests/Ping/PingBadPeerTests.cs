using System.Security.Cryptography;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Ping;
using Echo.Net.Tests.Identify;
using Echo.Net.Yamux;
using static Echo.Net.Tests.Identify.BadPeerKit;

namespace Echo.Net.Tests.Ping;

/// <summary>
/// Rule I-5 of docs/LIMITS.md: a ping answer that is not our 32 bytes, or no answer, fails that ping and
/// resets that stream only; a listener resets a ping stream left idle for 10 s. The host under test
/// runs on a fake clock, so the 10 s timeouts pass without waiting.
/// </summary>
public class PingBadPeerTests
{
    private static readonly TimeSpan PingTimeout = PingProtocol.Timeout;

    private sealed class Setup(ObservedFakeTime time, RecordingLoggerFactory log, Libp2pHost honest, Libp2pHost bad, Connection connection)
        : IAsyncDisposable
    {
        public ObservedFakeTime Time { get; } = time;
        public RecordingLoggerFactory Log { get; } = log;
        public Libp2pHost Honest { get; } = honest;
        public Libp2pHost Bad { get; } = bad;
        public Connection Connection { get; } = connection;

        public async ValueTask DisposeAsync()
        {
            await Bad.DisposeAsync();
            await Honest.DisposeAsync();
        }
    }

    /// <summary>
    /// An honest host on a fake clock connected to a bad peer (on the real clock), with identify done
    /// and yamux's first keep-alive ping answered: that ping times out after 10 s of the session's
    /// clock, so advancing the fake clock before its answer would close the connection.
    /// </summary>
    private static async Task<Setup> ConnectAsync(StreamHandler? badPingHandler = null)
    {
        ObservedFakeTime time = new();
        RecordingLoggerFactory log = new(Microsoft.Extensions.Logging.LogLevel.Trace);
        Libp2pHost honest = await StartAsync(log, time);
        Libp2pHost bad = await StartAsync();
        if (badPingHandler is not null)
            bad.SetStreamHandler(PingProtocol.ProtocolId, badPingHandler);
        (Connection connection, RecordingLoggerFactory.Entry outcome) = await BadPeerKit.ConnectAsync(honest, log, bad);
        Assert.Equal(Identified, outcome.EventId);
        await Bounded(connection.MuxerPingAsync(Ct));
        return new Setup(time, log, honest, bad, connection);
    }

    /// <summary>A ping handler that reads one ping, lets <paramref name="answer"/> reply, then reports whether the stream was reset.</summary>
    private static StreamHandler Replying(Func<byte[], P2PStream, Task> answer, TaskCompletionSource<byte[]> received,
        TaskCompletionSource<bool> reset) => async (stream, cancellationToken) =>
    {
        byte[] ping = (await stream.Input.ReadExactlyAsync(PingProtocol.PayloadLength, PingProtocol.ProtocolId, cancellationToken))!;
        received.TrySetResult(ping);
        await answer(ping, stream);
        try
        {
            while (true)
            {
                System.IO.Pipelines.ReadResult result = await stream.Input.ReadAsync(cancellationToken);
                stream.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                    break;
            }
            reset.TrySetResult(false);
        }
        catch (StreamResetException)
        {
            reset.TrySetResult(true);
        }
    };

    private static (TaskCompletionSource<byte[]> Received, TaskCompletionSource<bool> Reset) Signals() =>
        (new(TaskCreationOptions.RunContinuationsAsynchronously), new(TaskCreationOptions.RunContinuationsAsynchronously));

    [Fact(Timeout = 60_000)]
    public async Task Ping_PeerEchoes16BytesThenCloses_ThrowsUnexpectedEndAndResetsOnlyThatStream()
    {
        (TaskCompletionSource<byte[]> received, TaskCompletionSource<bool> reset) = Signals();
        await using Setup setup = await ConnectAsync(Replying(async (ping, stream) =>
        {
            await stream.Output.WriteAsync(ping.AsMemory(0, 16), Ct);
            await stream.CompleteOutputAsync();
        }, received, reset));

        await Assert.ThrowsAsync<UnexpectedEndException>(() => Bounded(setup.Honest.PingAsync(setup.Bad.PeerId, Ct)));

        Assert.True(await Bounded(reset.Task), "the ping stream was reset");
        await AssertStillConnectedAsync(setup.Honest, setup.Bad.PeerId, setup.Connection);
    }

    [Fact(Timeout = 60_000)]
    public async Task Ping_PeerAnswersOther32Bytes_ThrowsProtocolViolationAndResetsOnlyThatStream()
    {
        (TaskCompletionSource<byte[]> received, TaskCompletionSource<bool> reset) = Signals();
        await using Setup setup = await ConnectAsync(Replying(async (ping, stream) =>
        {
            byte[] other = RandomNumberGenerator.GetBytes(PingProtocol.PayloadLength);
            other[0] = (byte)~ping[0];
            await stream.Output.WriteAsync(other, Ct);
        }, received, reset));

        ProtocolViolationException e = await Assert.ThrowsAsync<ProtocolViolationException>(
            () => Bounded(setup.Honest.PingAsync(setup.Bad.PeerId, Ct)));

        Assert.Contains("pong does not match ping", e.Message);
        Assert.True(await Bounded(reset.Task), "the ping stream was reset");
        await AssertStillConnectedAsync(setup.Honest, setup.Bad.PeerId, setup.Connection);
    }

    [Fact(Timeout = 60_000)]
    public async Task Ping_NoReply_TimesOutAfter10SecondsOfTheHostClockAndResetsOnlyThatStream()
    {
        (TaskCompletionSource<byte[]> received, TaskCompletionSource<bool> reset) = Signals();
        await using Setup setup = await ConnectAsync(Replying((_, _) => Task.CompletedTask, received, reset));

        Task<TimeSpan> ping = setup.Honest.PingAsync(setup.Bad.PeerId, Ct);
        await Bounded(received.Task);                          // the timeout started before the ping was written
        setup.Time.Advance(PingTimeout - TimeSpan.FromMilliseconds(1));
        await AssertStillConnectedAsync(setup.Honest, setup.Bad.PeerId, setup.Connection);
        Assert.False(ping.IsCompleted, "the ping gave up before 10 s");

        setup.Time.Advance(TimeSpan.FromMilliseconds(1));
        TimeoutException e = await Assert.ThrowsAsync<TimeoutException>(() => Bounded(ping));

        Assert.Contains("within 10 s", e.Message);
        Assert.True(await Bounded(reset.Task), "the ping stream was reset");
        await AssertStillConnectedAsync(setup.Honest, setup.Bad.PeerId, setup.Connection);
    }

    [Fact(Timeout = 60_000)]
    public async Task Ping_CallerCancels_ThrowsOperationCanceledNotTimeout()
    {
        (TaskCompletionSource<byte[]> received, TaskCompletionSource<bool> reset) = Signals();
        await using Setup setup = await ConnectAsync(Replying((_, _) => Task.CompletedTask, received, reset));
        using CancellationTokenSource caller = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        Task<TimeSpan> ping = setup.Honest.PingAsync(setup.Bad.PeerId, caller.Token);
        await Bounded(received.Task);
        await caller.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Bounded(ping));
        Assert.True(await Bounded(reset.Task), "the ping stream was reset");
        await AssertStillConnectedAsync(setup.Honest, setup.Bad.PeerId, setup.Connection);
    }

    [Fact(Timeout = 60_000)]
    public async Task Listener_StreamIdleFor10Seconds_IsResetAndTheConnectionStays()
    {
        await using Setup setup = await ConnectAsync();
        int timers = setup.Time.TimersCreated(PingTimeout);

        // The bad peer opens a ping stream to the honest host and then stays silent.
        P2PStream stream = await Bounded(setup.Bad.OpenStreamAsync(setup.Honest.PeerId, PingProtocol.ProtocolId, Ct));
        await setup.Time.WaitForTimersAsync(PingTimeout, ++timers);    // the listener waits for the first ping

        for (int round = 0; round < 2; round++)
        {
            // 1 ms short of the limit the stream lives: a ping still gets its echo, and restarts the wait.
            setup.Time.Advance(PingTimeout - TimeSpan.FromMilliseconds(1));
            byte[] ping = RandomNumberGenerator.GetBytes(PingProtocol.PayloadLength);
            await Bounded(stream.Output.WriteAsync(ping, Ct).AsTask());
            byte[]? echo = await Bounded(stream.Input.ReadExactlyAsync(PingProtocol.PayloadLength, PingProtocol.ProtocolId, Ct).AsTask());
            Assert.Equal(ping, echo);
            await setup.Time.WaitForTimersAsync(PingTimeout, ++timers);
        }

        setup.Time.Advance(PingTimeout);
        await Assert.ThrowsAsync<StreamResetException>(
            () => Bounded(stream.Input.ReadExactlyAsync(PingProtocol.PayloadLength, PingProtocol.ProtocolId, Ct).AsTask()));
        Assert.Same(setup.Connection, setup.Honest.GetConnection(setup.Bad.PeerId));
        Assert.True(await Bounded(setup.Bad.PingAsync(setup.Honest.PeerId, Ct)) >= TimeSpan.Zero);
        await AssertStillConnectedAsync(setup.Honest, setup.Bad.PeerId, setup.Connection);
    }

    [Fact(Timeout = 60_000)]
    public async Task FakeClock_10SecondsDoNotFireTheKeepAliveAnd30SecondsDo()
    {
        // Only the honest host logs here: these are its own session's ping answers.
        static bool YamuxPingAnswered(RecordingLoggerFactory.Entry e) => e.EventId == 1413 && e.Category.Contains("Yamux");
        await using Setup setup = await ConnectAsync();
        int answered = setup.Log.Count(YamuxPingAnswered);

        setup.Time.Advance(PingTimeout);
        await AssertStillConnectedAsync(setup.Honest, setup.Bad.PeerId, setup.Connection);
        Assert.True(await Bounded(setup.Honest.PingAsync(setup.Bad.PeerId, Ct)) >= TimeSpan.Zero);
        Assert.Equal(answered, setup.Log.Count(YamuxPingAnswered));

        setup.Time.Advance(new YamuxOptions().KeepAliveInterval - PingTimeout);
        await setup.Log.WaitForAsync(YamuxPingAnswered, answered + 1);
        await AssertStillConnectedAsync(setup.Honest, setup.Bad.PeerId, setup.Connection);
    }
}
