using Microsoft.Extensions.Logging;

namespace Echo.Net.Yamux;

/// <summary>
/// A session's pings (after Kestrel's Http2KeepAlive, plus the round-trip time): one ping in flight at
/// a time, as go and js do; the first at start measures the RTT that receive-window auto-tuning needs,
/// then one every <see cref="YamuxOptions.KeepAliveInterval"/>. A keep-alive ping unanswered within
/// <see cref="YamuxOptions.PingTimeout"/> ends the session.
/// </summary>
/// <remarks>Its state is guarded by its own lock, a leaf; the send loop writes the frames.</remarks>
internal sealed class YamuxKeepAlive(YamuxSession session, YamuxSendLoop sender, YamuxOptions options, TimeProvider time, ILogger logger)
{
    private readonly Lock _lock = new();
    private readonly AsyncAutoResetEvent _tick = new();
    private ITimer? _timer;
    private long _rttTicks;

    // guarded by _lock
    private ActivePing? _active;
    private uint _nextId;
    private bool _stopped;

    private sealed class ActivePing(uint id, long started)
    {
        public uint Id { get; } = id;
        public long Started { get; } = started;
        public TaskCompletionSource<TimeSpan> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Last measured round-trip time (zero before the first ping answer).</summary>
    public TimeSpan Rtt => new(Volatile.Read(ref _rttTicks));

    /// <summary>Starts the timer and the loop; the loop's task ends with the session.</summary>
    public Task StartAsync()
    {
        if (options.KeepAliveInterval != Timeout.InfiniteTimeSpan)
        {
            _timer = time.CreateTimer(static state => ((YamuxKeepAlive)state!)._tick.Set(), this,
                options.KeepAliveInterval, options.KeepAliveInterval);
        }
        return RunAsync();
    }

    /// <summary>
    /// Pings the peer, or joins the ping already in flight. The timeout's timer starts before the
    /// frame is queued, so a test clock sees it once the ping is on the wire.
    /// </summary>
    public async Task<TimeSpan> PingAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        ActivePing ping;
        ActivePing? stale = null;
        bool send = false;
        lock (_lock)
        {
            if (_stopped)
                throw session.ClosedException();
            if (_active is { } active && time.GetElapsedTime(active.Started) >= options.PingTimeout)
            {
                stale = active;   // its answer was lost; start over rather than wait on it forever
                _active = null;
            }
            if (_active is null)
            {
                _active = new ActivePing(_nextId++, time.GetTimestamp());
                send = true;
            }
            ping = _active;
        }
        stale?.Completion.TrySetException(new TimeoutException($"{YamuxOptions.ProtocolId}: ping {stale.Id} was not answered"));
        Task<TimeSpan> answer = ping.Completion.Task.WaitAsync(timeout, time, cancellationToken);
        if (send)
            sender.QueuePing(ping.Id);
        try
        {
            return await answer.ConfigureAwait(false);
        }
        catch (TimeoutException) when (ping.Completion.Task.IsCompletedSuccessfully)
        {
            // The answer and the timeout crossed: WaitAsync hears of the answer through a queued
            // continuation, so its timer can fire after the ping was in fact answered.
            return await ping.Completion.Task.ConfigureAwait(false);
        }
    }

    /// <summary>A Ping frame from the peer (read loop): its ping is answered, an answer completes ours.</summary>
    public void OnPingFrame(in YamuxHeader header)
    {
        if (header.Has(YamuxFlags.Syn))
        {
            sender.QueuePong(header.Length);
            return;
        }
        if (header.Has(YamuxFlags.Ack))
        {
            if (!OnAnswer(header.Length))
                Log.OddFrame(logger, "ping answer that matches no ping of ours");
            return;
        }
        Log.OddFrame(logger, "ping with neither SYN nor ACK");
    }

    /// <summary>The peer answered ping <paramref name="id"/>; false when it matches no ping of ours.</summary>
    public bool OnAnswer(uint id)
    {
        ActivePing? ping = null;
        lock (_lock)
        {
            if (_active is { } active && active.Id == id)
            {
                ping = active;
                _active = null;
            }
        }
        if (ping is null)
            return false;
        TimeSpan rtt = time.GetElapsedTime(ping.Started);
        Volatile.Write(ref _rttTicks, Math.Max(rtt.Ticks, 1));
        Log.PingCompleted(logger, rtt.TotalMilliseconds);
        ping.Completion.TrySetResult(rtt);
        return true;
    }

    /// <summary>The session ended: no more pings; the one in flight fails.</summary>
    public void Stop()
    {
        ActivePing? ping;
        lock (_lock)
        {
            _stopped = true;
            ping = _active;
            _active = null;
        }
        ping?.Completion.TrySetException(session.ClosedException());
        _timer?.Dispose();
        _tick.Set();
    }

    private async Task RunAsync()
    {
        bool keepAlive = options.KeepAliveInterval != Timeout.InfiniteTimeSpan;
        TimeSpan timeout = keepAlive ? options.PingTimeout : Timeout.InfiniteTimeSpan;
        try
        {
            // The first ping measures the RTT at once, which receive-window auto-tuning needs.
            while (!session.State.IsEnded())
            {
                try
                {
                    await PingAsync(timeout, CancellationToken.None).ConfigureAwait(false);
                }
                catch (TimeoutException) when (!session.State.IsEnded())
                {
                    Log.KeepAliveTimeout(logger, timeout.TotalMilliseconds);
                    session.Terminate(new TimeoutException(
                        $"{YamuxOptions.ProtocolId}: keep-alive ping not answered within {timeout.TotalSeconds} s"), null);
                    return;
                }
                if (!keepAlive)
                    return;
                await _tick.WaitAsync().ConfigureAwait(false);
            }
        }
        catch (Exception) when (session.State.IsEnded())
        {
            // The session ended while a ping was in flight.
        }
        catch (Exception ex)
        {
            Log.InternalError(logger, ex);
            session.Terminate(ex, YamuxGoAwayCode.InternalError);
        }
        finally
        {
            _timer?.Dispose();
        }
    }
}
