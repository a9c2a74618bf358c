using System.IO.Pipelines;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Yamux;

/// <summary>
/// The only writer of a session's connection (after Kestrel's Http2FrameWriter): answers pings, sends
/// our ping, refuses streams, and frames the streams' pending data, flags and window updates in turns,
/// flushing once per batch. Other threads only queue work here and wake it.
/// </summary>
/// <remarks>
/// Its queues are guarded by its own lock, a leaf under the session's: streams are queued at most once
/// at a time (<see cref="YamuxStream.Queued"/>); ping answers and refusals are bounded.
/// </remarks>
internal sealed class YamuxSendLoop(YamuxSession session, PipeWriter output, YamuxOptions options, ILogger logger)
{
    // Bytes written into the connection before a flush even when more is queued, so the layer below
    // (Noise) starts encrypting while we keep framing.
    private const long FlushThreshold = 256 * 1024;

    // Bytes one stream may write per turn before the next queued stream gets its turn.
    private const long StreamTurn = 4 * YamuxOptions.MaxFramePayload;

    private readonly Lock _lock = new();
    private readonly AsyncAutoResetEvent _signal = new();
    private readonly AsyncAutoResetEvent _refusalSpace = new();

    // guarded by _lock
    private readonly Queue<YamuxStream> _streams = new();
    private readonly Queue<uint> _pongs = new();
    private readonly Queue<uint> _refusals = new();
    private uint? _pingToSend;
    private int _pongHighWater;
    private bool _pongDropLogged;

    /// <summary>Most ping answers that were ever queued at once.</summary>
    public int PongHighWater
    {
        get
        {
            lock (_lock)
                return _pongHighWater;
        }
    }

    /// <summary>True while the refusals waiting to be written are at their bound: the read loop pauses.</summary>
    public bool RefusalsFull
    {
        get
        {
            lock (_lock)
                return _refusals.Count >= options.MaxPendingRefusals;
        }
    }

    /// <summary>Queues a stream for its turn (at most once at a time).</summary>
    public void Enqueue(YamuxStream stream)
    {
        lock (_lock)
        {
            if (stream.Queued)
                return;
            stream.Queued = true;
            _streams.Enqueue(stream);
        }
        _signal.Set();
    }

    /// <summary>Queues our ping (one at a time: the keep-alive sends a new one only after the last).</summary>
    public void QueuePing(uint id)
    {
        lock (_lock)
            _pingToSend = id;
        _signal.Set();
    }

    /// <summary>Queues the answer to the peer's ping; beyond <see cref="YamuxOptions.MaxPendingPongs"/> it is dropped.</summary>
    public void QueuePong(uint value)
    {
        bool queued;
        bool logDrop = false;
        lock (_lock)
        {
            queued = _pongs.Count < options.MaxPendingPongs;
            if (queued)
            {
                _pongs.Enqueue(value);
                _pongHighWater = Math.Max(_pongHighWater, _pongs.Count);
            }
            else if (!_pongDropLogged)
                logDrop = _pongDropLogged = true;
        }
        if (queued)
            _signal.Set();
        else if (logDrop)
            Log.PongsDropped(logger);
    }

    /// <summary>Queues a RST for a refused inbound stream.</summary>
    public void QueueRefusal(uint id)
    {
        lock (_lock)
            _refusals.Enqueue(id);
        _signal.Set();
    }

    /// <summary>Completes when some refusals were written (or the session ends).</summary>
    public ValueTask WaitForRefusalSpaceAsync() => _refusalSpace.WaitAsync();

    /// <summary>The session ended: wake the loop and whoever waits on it.</summary>
    public void OnSessionEnded()
    {
        _signal.Set();
        _refusalSpace.Set();
    }

    private bool TryDequeue(out YamuxStream stream)
    {
        lock (_lock)
        {
            if (_streams.TryDequeue(out stream!))
            {
                stream.Queued = false;
                return true;
            }
            return false;
        }
    }

    /// <summary>Runs until the session ends (after draining, when it ends gracefully), then writes GoAway and completes the connection's writer.</summary>
    public async Task RunAsync(CancellationToken abort)
    {
        Exception? failure = null;
        bool outputBroken = false;
        bool outputClosed = false;
        try
        {
            while (true)
            {
                YamuxSessionState state = session.State;
                if (state == YamuxSessionState.Closed)
                    break;
                long written = WriteControlFrames();
                while (written < FlushThreshold && TryDequeue(out YamuxStream stream))
                {
                    written += stream.WriteFrames(output, StreamTurn, out bool more);
                    if (more)
                        Enqueue(stream);
                }
                if (written > 0)
                {
                    FlushResult flush = await output.FlushAsync(abort).ConfigureAwait(false);
                    if (flush.IsCompleted)
                    {
                        outputClosed = true;   // the layer below closed the connection
                        break;
                    }
                    continue;
                }
                if (state.IsEnded())
                    break;   // draining: everything that could be written is written
                await _signal.WaitAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            failure = ex;   // the connection's writer failed
            outputBroken = true;
        }

        if (outputBroken)
            session.Terminate(failure, null);
        if (outputClosed)
        {
            // Nothing more can be written. When the peer closed the connection the read side sees
            // EOF (a normal end); when the connection failed it sees the error; a half-open
            // connection fails the keep-alive. Either way the read side ends the session.
            while (!session.State.IsEnded())
                await _signal.WaitAsync().ConfigureAwait(false);
        }
        if (session.GoAwayToSend is { } code && !outputBroken && !outputClosed)
        {
            try
            {
                YamuxFrame.Write(output, YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)code);
                await output.FlushAsync(abort).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Best effort: completing the writer below still hands the frame to the layer below.
            }
        }
        await output.CompleteAsync().ConfigureAwait(false);

        Exception? cause = session.Error;
        foreach (YamuxStream stream in session.FinalStreams)
        {
            stream.OnSessionEnded(cause, read: false, write: true);
            stream.AbortOutbound(stream.WriteError ?? session.ClosedException());
        }
        while (TryDequeue(out YamuxStream stream))
        {
            if (stream.WriteError is { } error)
                stream.AbortOutbound(error);
        }
    }

    /// <summary>Writes ping answers, our ping and refusals.</summary>
    private long WriteControlFrames()
    {
        long written = 0;
        bool refused = false;
        lock (_lock)
        {
            while (_pongs.TryDequeue(out uint value))
            {
                YamuxFrame.Write(output, YamuxFrameType.Ping, YamuxFlags.Ack, 0, value);
                written += YamuxFrame.HeaderLength;
            }
            if (_pingToSend is uint ping)
            {
                _pingToSend = null;
                YamuxFrame.Write(output, YamuxFrameType.Ping, YamuxFlags.Syn, 0, ping);
                written += YamuxFrame.HeaderLength;
            }
            while (_refusals.TryDequeue(out uint id))
            {
                YamuxFrame.Write(output, YamuxFrameType.WindowUpdate, YamuxFlags.Rst, id, 0);
                written += YamuxFrame.HeaderLength;
                refused = true;
            }
        }
        if (refused)
            _refusalSpace.Set();
        return written;
    }
}
