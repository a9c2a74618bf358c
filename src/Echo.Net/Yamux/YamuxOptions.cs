namespace Echo.Net.Yamux;

/// <summary>Limits and timers of a yamux session. Every default says where it comes from.</summary>
public sealed record YamuxOptions
{
    public const string ProtocolId = "/yamux/1.0.0";

    /// <summary>Fixed by the spec: every stream starts with 256 KiB of credit in each direction.</summary>
    public const int InitialWindow = 256 * 1024;

    /// <summary>
    /// Largest Data payload we put in one frame: 64 KiB per frame, header included, exactly what go and
    /// js send (their MaxMessageSize minus the header). Larger frames would only delay other streams'
    /// frames and window updates behind one big write.
    /// </summary>
    public const int MaxFramePayload = 64 * 1024 - YamuxFrame.HeaderLength;

    /// <summary>
    /// Ceiling for auto-tuning a stream's receive window (doubling from 256 KiB when the reader keeps up
    /// faster than ~4 RTT per window). 16 MiB is the go-libp2p and js default; it cannot be raised past
    /// <see cref="YamuxFrame.MaxDataLength"/>, the largest Data frame the decoder accepts.
    /// </summary>
    public int MaxReceiveWindow { get; init; } = 16 * 1024 * 1024;

    /// <summary>
    /// Largest send window we let the peer grant us; a window update beyond it (or beyond 2^32 - 1) is a
    /// protocol error, never a wrapped window. Not 16 MiB: rust-yamux grows a stream's window up to its
    /// 1 GiB per-connection budget, and a large send window costs us nothing (we only send what the
    /// application writes, and the connection's own backpressure still applies).
    /// </summary>
    public long MaxSendWindow { get; init; } = 1024L * 1024 * 1024;

    /// <summary>
    /// Concurrent streams the peer may have open on one connection; a SYN beyond it is answered with
    /// RST. Below go (accept backlog 256, resource manager above) and rust (512): a chat opens a handful.
    /// </summary>
    public int MaxInboundStreams { get; init; } = 256;

    /// <summary>
    /// Inbound streams waiting for <c>AcceptStreamAsync</c>; a SYN beyond it is answered with RST. The spec
    /// asks implementations to buffer at least 256 unacknowledged inbound streams; go uses 256.
    /// </summary>
    public int AcceptBacklog { get; init; } = 256;

    /// <summary>
    /// Our own streams that the peer has not acknowledged yet; <c>OpenStreamAsync</c> waits beyond it
    /// (spec: an ACK backlog of at most 256).
    /// </summary>
    public int MaxUnacknowledgedStreams { get; init; } = 256;

    /// <summary>
    /// Receive memory one connection may commit. Each stream reserves its whole receive window (256 KiB,
    /// more once auto-tuned) because that is what the peer may send without asking; when the budget is
    /// used up, new streams are refused with RST and windows stop growing, instead of buffering more.
    /// Window growth may use at most half of it, so bulk transfers never crowd out new streams.
    /// 32 MiB is go-libp2p's per-connection memory limit; 256 inbound streams x 256 KiB would be 64 MiB.
    /// </summary>
    public long MaxSessionReceiveBuffer { get; init; } = 32L * 1024 * 1024;

    /// <summary>Ping answers waiting to be written; excess pings are dropped, as go's PingBacklog (32) does.</summary>
    public int MaxPendingPongs { get; init; } = 32;

    /// <summary>
    /// RST frames for refused streams waiting to be written. A peer that keeps opening streams while not
    /// reading our answers is paused (we stop reading from it) rather than growing this queue.
    /// </summary>
    public int MaxPendingRefusals { get; init; } = 1024;

    /// <summary>
    /// Bytes an application may flush into one stream ahead of the sender (beyond this, <c>FlushAsync</c>
    /// waits). 64 KiB is one full frame, which keeps a slow peer's cost at window + 64 KiB per stream.
    /// Large <c>WriteAsync</c> calls bypass this buffer and are framed straight from the caller's memory.
    /// </summary>
    public int StreamSendBuffer { get; init; } = 64 * 1024;

    /// <summary>
    /// Interval between keep-alive pings; <see cref="Timeout.InfiniteTimeSpan"/> disables them. 30 s is the
    /// go-yamux and js default (js-libp2p also closes idle connections it cannot ping).
    /// </summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a keep-alive ping may go unanswered before the session is closed: go-yamux's
    /// ConnectionWriteTimeout (10 s), so a dead peer is noticed within about 40 s.
    /// </summary>
    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxReceiveWindow, InitialWindow);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)MaxReceiveWindow, YamuxFrame.MaxDataLength);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSendWindow, InitialWindow);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxSendWindow, uint.MaxValue);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInboundStreams, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(AcceptBacklog, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxUnacknowledgedStreams, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSessionReceiveBuffer, InitialWindow);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPendingPongs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPendingRefusals, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(StreamSendBuffer, 1024);
        if (KeepAliveInterval != Timeout.InfiniteTimeSpan)
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(KeepAliveInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(PingTimeout, TimeSpan.Zero);
    }
}
