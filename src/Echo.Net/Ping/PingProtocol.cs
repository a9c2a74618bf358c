using System.Buffers;
using System.Security.Cryptography;
using Echo.Net.Framing;
using Echo.Net.Host;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Ping;

/// <summary>
/// /ipfs/ping/1.0.0 (https://github.com/libp2p/specs/blob/master/ping/ping.md): the dialer sends
/// 32 random bytes, the listener echoes them, the dialer measures the round trip. Repeats on one
/// stream until the dialer half-closes.
/// </summary>
/// <remarks>
/// js-libp2p pings every connection every 10 s and drops the connection if ping fails, so serving
/// it is not optional. A listener that waits more than 10 s for the next ping resets the stream,
/// as go does. Both 10 s timeouts run on the host's <see cref="TimeProvider"/>.
/// </remarks>
internal sealed class PingProtocol(TimeProvider time, ILogger<PingProtocol> logger)
{
    public const string ProtocolId = "/ipfs/ping/1.0.0";
    public const int PayloadLength = 32;
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Echoes 32-byte pings until the remote half-closes; resets after 10 s of silence.</summary>
    public async Task HandleAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        while (true)
        {
            using CancellationTokenSource timer = new(Timeout, time);
            using CancellationTokenSource idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
            byte[]? ping = await stream.Input.ReadExactlyAsync(PayloadLength, ProtocolId, idle.Token).ConfigureAwait(false);
            if (ping is null)
            {
                await stream.CompleteOutputAsync().ConfigureAwait(false);
                return;
            }
            await stream.Output.WriteAsync(ping, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends one ping on <paramref name="stream"/> and returns the round-trip time.</summary>
    /// <exception cref="TimeoutException">No answer within 10 s.</exception>
    public async Task<TimeSpan> PingAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        byte[] ping = RandomNumberGenerator.GetBytes(PayloadLength);
        using CancellationTokenSource timer = new(Timeout, time);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        long started = time.GetTimestamp();
        try
        {
            await stream.Output.WriteAsync(ping, timeout.Token).ConfigureAwait(false);
            byte[] pong = await stream.Input.ReadExactlyAsync(PayloadLength, ProtocolId, timeout.Token).ConfigureAwait(false)
                ?? throw new UnexpectedEndException(ProtocolId);
            if (!pong.AsSpan().SequenceEqual(ping))
                throw new ProtocolViolationException(ProtocolId, "pong does not match ping");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{stream.RemotePeer} did not answer a ping within {Timeout.TotalSeconds} s");
        }
        TimeSpan rtt = time.GetElapsedTime(started);
        Log.PingCompleted(logger, stream.RemotePeer, rtt.TotalMilliseconds);
        return rtt;
    }
}
