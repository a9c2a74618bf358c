// Yamux session: https://github.com/hashicorp/yamux/blob/master/spec.md and
// https://github.com/libp2p/specs/blob/master/yamux/README.md (ACK backlog rules).
//
// Multiplexes streams over one secured connection. Three loops, each owning its part:
//   read loop   (YamuxFrameReader.cs) reads frames from the connection and hands each to this session
//               (the IYamuxFrameHandler calls at the end of this file), which updates stream state; the
//               reader copies Data payloads into the streams' inbound pipes. It never waits on a stream
//               or on the writer (except when a peer floods us with streams to refuse faster than it
//               reads our RSTs);
//   send loop   (YamuxSendLoop.cs) the only writer of the connection: answers pings, refuses streams,
//               and frames the streams' pending data, flags and window updates, flushing once per batch;
//   keep-alive  (YamuxKeepAlive.cs) pings the peer at start (RTT for window auto-tuning) and every
//               KeepAliveInterval; an unanswered ping closes the session.
// This file holds the lifecycle (YamuxSessionState), the stream table, opening/accepting streams, and
// what each inbound frame does to them. Receive memory is counted by YamuxReceiveBudget, windows by
// YamuxWindows.cs. Frame layout: YamuxFrame.cs.

using System.IO.Pipelines;
using Echo.Net.ResourceManager;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Yamux;

internal sealed class YamuxSession : IAsyncDisposable, IYamuxFrameHandler
{
    private readonly IDuplexPipe _connection;
    private readonly bool _isClient;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();        // state, streams table, counters, backlog
    private readonly Dictionary<uint, YamuxStream> _streams = [];
    private readonly YamuxFrameReader _reader;
    private readonly YamuxSendLoop _sender;
    private readonly YamuxKeepAlive _keepAlive;
    private readonly CancellationTokenSource _closed = new();
    private readonly CancellationTokenSource _abort = new();
    private Task? _readTask;
    private Task? _sendTask;
    private Task? _keepAliveTask;
    private Task? _closedCallbacks;

    // written under _lock, read anywhere
    private volatile YamuxSessionState _state;

    // guarded by _lock
    private long _nextStreamId;
    private int _inboundCount;
    private int _unacknowledged;
    private TaskCompletionSource? _slotWaiter;
    // Inbound streams waiting for AcceptStreamAsync, and its waiter. A queue under the session lock
    // rather than a bounded Channel: the channel preallocates its reader, writer and four operation
    // objects, 0.7 KB of the ~10 KB an idle connection holds. Null while empty.
    private Queue<YamuxStream>? _backlog;
    private TaskCompletionSource? _acceptWaiter;
    private YamuxGoAwayCode? _goAwayToSend;
    private YamuxStream[] _finalStreams = [];

    private Exception? _error;

    /// <param name="memory">
    /// This connection's scope in the process-wide memory budget, or null for none; the session
    /// reserves its windows there beyond the floor and closes the scope when it ends.
    /// </param>
    public YamuxSession(IDuplexPipe connection, bool isClient, YamuxOptions options, TimeProvider time, ILogger logger,
        MemoryBudgetScope? memory = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        _connection = connection;
        _isClient = isClient;
        Options = options;
        Time = time;
        _logger = logger;
        _nextStreamId = isClient ? 1 : 2;
        ReceiveBudget = new YamuxReceiveBudget(options.MaxSessionReceiveBuffer, memory);
        _reader = new YamuxFrameReader(this);
        _sender = new YamuxSendLoop(this, connection.Output, options, logger);
        _keepAlive = new YamuxKeepAlive(this, _sender, options, time, logger);
    }

    internal YamuxOptions Options { get; }

    internal TimeProvider Time { get; }

    /// <summary>Receive memory committed to this session's stream windows.</summary>
    internal YamuxReceiveBudget ReceiveBudget { get; }

    /// <summary>Where the session is in its life.</summary>
    internal YamuxSessionState State => _state;

    /// <summary>Fires when the session ends for any reason.</summary>
    public CancellationToken Closed => _closed.Token;

    /// <summary>Why the session ended, when it ended abnormally; null while open and after a normal end.</summary>
    public Exception? Error => Volatile.Read(ref _error);

    public int StreamCount
    {
        get
        {
            lock (_lock)
                return _streams.Count;
        }
    }

    /// <summary>Last measured round-trip time (zero before the first ping answer).</summary>
    internal TimeSpan Rtt => _keepAlive.Rtt;

    /// <summary>Receive memory currently committed to stream windows.</summary>
    internal long ReservedReceiveBytes => ReceiveBudget.Reserved;

    /// <summary>Most ping answers that were ever queued at once.</summary>
    internal int PongHighWater => _sender.PongHighWater;

    /// <summary>Bytes buffered for the application across this session's streams.</summary>
    internal long BufferedReceiveBytes
    {
        get
        {
            YamuxStream[] streams;
            lock (_lock)
                streams = [.. _streams.Values];
            long total = 0;
            foreach (YamuxStream stream in streams)
                total += stream.BufferedBytes;
            return total;
        }
    }

    /// <summary>The GoAway code the send loop writes last, once the session ended (null: none).</summary>
    internal YamuxGoAwayCode? GoAwayToSend
    {
        get
        {
            lock (_lock)
                return _goAwayToSend;
        }
    }

    /// <summary>The streams that were live when the session ended (set once, at the end).</summary>
    internal YamuxStream[] FinalStreams
    {
        get
        {
            lock (_lock)
                return _finalStreams;
        }
    }

    public void Start()
    {
        lock (_lock)
        {
            if (_state != YamuxSessionState.New)
                throw new InvalidOperationException("the session was already started or closed");
            _state = YamuxSessionState.Open;
        }
        Log.SessionStarted(_logger, _isClient ? "client" : "server");
        _sendTask = _sender.RunAsync(_abort.Token);   // runs until its first wait; the read loop awaits it at its end
        _readTask = ReadLoopAsync();
        _keepAliveTask = _keepAlive.StartAsync();
    }

    /// <summary>
    /// Opens a stream: SYN is sent at once and data may follow before the peer's ACK. Waits while
    /// <see cref="YamuxOptions.MaxUnacknowledgedStreams"/> of ours are unacknowledged or the receive budget
    /// is used up.
    /// </summary>
    public async ValueTask<YamuxStream> OpenStreamAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task slotFreed;
            YamuxStream? stream = null;
            lock (_lock)
            {
                if (_state.IsEnded())
                    throw ClosedException();
                if (_state == YamuxSessionState.GoAwayReceived)
                    throw new IOException($"{YamuxOptions.ProtocolId}: the remote sent GoAway and accepts no new streams");
                if (_nextStreamId > uint.MaxValue)
                    throw new IOException($"{YamuxOptions.ProtocolId}: stream ids of this session are used up");
                if (_unacknowledged < Options.MaxUnacknowledgedStreams && ReceiveBudget.TryReserveStream())
                {
                    stream = new YamuxStream(this, (uint)_nextStreamId, outbound: true, Time.GetTimestamp(), Options.StreamSendBuffer)
                    {
                        AwaitingAck = true,
                    };
                    _nextStreamId += 2;
                    _unacknowledged++;
                    _streams.Add(stream.Id, stream);
                }
                slotFreed = stream is null ? (_slotWaiter ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task : Task.CompletedTask;
            }
            if (stream is not null)
            {
                Log.StreamOpened(_logger, stream.Id, "outbound");
                Enqueue(stream);   // SYN (riding on the first data frame if the application is quicker)
                return stream;
            }
            await slotFreed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Next inbound stream (ACK is sent on accept); null once the session is closed.</summary>
    public async ValueTask<YamuxStream?> AcceptStreamAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            YamuxStream? stream = null;
            Task arrived;
            lock (_lock)
            {
                while (stream is null && _backlog?.TryDequeue(out YamuxStream? next) == true)
                {
                    if (next.WriteError is null || next.ReadError is null)
                        stream = next;   // else reset by the peer while waiting in the backlog
                }
                if (_backlog?.Count == 0)
                    _backlog = null;
                if (stream is null && _state.IsEnded())
                    return null;
                arrived = stream is null ? (_acceptWaiter ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task : Task.CompletedTask;
            }
            if (stream is not null)
            {
                stream.MarkAccepted();
                return stream;
            }
            // Without a token to watch, no cancellation promise and registration per idle connection.
            await (cancellationToken.CanBeCanceled ? arrived.WaitAsync(cancellationToken) : arrived).ConfigureAwait(false);
        }
    }

    /// <summary>Sends a session ping and returns the round-trip time.</summary>
    public Task<TimeSpan> PingAsync(CancellationToken cancellationToken) =>
        _keepAlive.PingAsync(Timeout.InfiniteTimeSpan, cancellationToken);

    /// <summary>Sends what is already queued, then GoAway(normal), and ends the session.</summary>
    public async ValueTask CloseAsync(CancellationToken cancellationToken)
    {
        Terminate(null, YamuxGoAwayCode.Normal, graceful: true);
        try
        {
            if (_sendTask is not null)
                await _sendTask.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _abort.Cancel();
            throw;
        }
        await WhenLoopsEndedAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        Terminate(null, YamuxGoAwayCode.Normal, graceful: false);
        _abort.Cancel();
        await WhenLoopsEndedAsync().ConfigureAwait(false);
        if (_readTask is null)
        {
            // Never started: nobody else completes the pipes.
            foreach (YamuxStream stream in FinalStreams)
            {
                stream.CompleteInboundWriter(stream.ReadError);
                stream.AbortOutbound(stream.WriteError ?? ClosedException());
            }
            await _connection.Input.CompleteAsync().ConfigureAwait(false);
            await _connection.Output.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task WhenLoopsEndedAsync()
    {
        // The loops catch everything themselves; awaiting them only waits for their clean-up.
        foreach (Task? task in new[] { _readTask, _sendTask, _keepAliveTask, _closedCallbacks })
        {
            if (task is not null)
                await task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    // ------------------------------------------------------------------ lifecycle

    /// <summary>Runs the frame reader until the connection or the session ends, then ends the session.</summary>
    private async Task ReadLoopAsync()
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);   // on the pool, as Task.Run would, without its wrapper task
        PipeReader input = _connection.Input;
        Exception? error = null;
        YamuxGoAwayCode? goAway = null;
        try
        {
            error = await _reader.RunAsync(input).ConfigureAwait(false);
        }
        catch (YamuxProtocolException ex)
        {
            Log.ProtocolViolation(_logger, ex.Code, ex);
            error = ex;
            goAway = ex.Code;
        }
        catch (Exception ex)
        {
            Log.InternalError(_logger, ex);
            error = ex;
            goAway = YamuxGoAwayCode.InternalError;
        }
        Terminate(error, goAway);
        Exception? cause = Error;
        foreach (YamuxStream stream in FinalStreams)
        {
            // Terminate may still be failing the streams on another thread: fail the read side here
            // too (idempotent), so no reader mistakes the end of the session for a clean FIN.
            stream.OnSessionEnded(cause, read: true, write: false);
            stream.CompleteInboundWriter(stream.ReadError);
        }
        // Stop reading only after our last frame (GoAway) is out: a peer still writing to us would
        // otherwise see the connection vanish before it sees why.
        if (_sendTask is not null)
            await _sendTask.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await input.CompleteAsync().ConfigureAwait(false);
    }

    internal IOException ClosedException() =>
        new($"{YamuxOptions.ProtocolId}: the session is closed", Error);

    /// <summary>
    /// An ordinary end (the connection reset or closed under us, a relay cutting its circuit) is one line;
    /// anything else keeps its stack trace.
    /// </summary>
    private void LogEnd(Exception? error)
    {
        if (error is null)
            Log.SessionEnded(_logger, "normal", null);
        else if (error is IOException or ObjectDisposedException or OperationCanceledException)
            Log.SessionEnded(_logger, $"{error.GetType().Name}: {error.Message}", null);
        else
            Log.SessionEnded(_logger, error.GetType().Name, error);
    }

    /// <summary>
    /// Ends the session once: records why, stops the loops and fails what waits on it. A graceful end
    /// lets the send loop write what is already queued before GoAway; otherwise streams fail at once.
    /// </summary>
    internal void Terminate(Exception? error, YamuxGoAwayCode? goAway, bool graceful = false)
    {
        YamuxStream[] streams;
        TaskCompletionSource? slotWaiter;
        TaskCompletionSource? acceptWaiter;
        lock (_lock)
        {
            if (_state.IsEnded())
                return;
            acceptWaiter = _acceptWaiter;
            _acceptWaiter = null;
            _goAwayToSend = goAway;
            Volatile.Write(ref _error, error);
            streams = [.. _streams.Values];
            _finalStreams = streams;
            _streams.Clear();
            slotWaiter = _slotWaiter;
            _slotWaiter = null;
            _state = graceful ? YamuxSessionState.Draining : YamuxSessionState.Closed;
        }
        LogEnd(error);
        if (!graceful)
        {
            foreach (YamuxStream stream in streams)
                stream.OnSessionEnded(error, read: true, write: true);
            _abort.Cancel();
        }
        else
        {
            foreach (YamuxStream stream in streams)
                stream.OnSessionEnded(error, read: true, write: false);
        }
        _keepAlive.Stop();
        ReceiveBudget.Close();
        slotWaiter?.TrySetResult();
        acceptWaiter?.TrySetResult();   // the backlog is still handed out, then null
        _sender.OnSessionEnded();
        _connection.Input.CancelPendingRead();
        _closedCallbacks = _closed.CancelAsync();
    }

    // ------------------------------------------------------------------ bookkeeping used by streams

    /// <summary>Queues a stream for the send loop (at most once at a time).</summary>
    internal void Enqueue(YamuxStream stream) => _sender.Enqueue(stream);

    internal void LogWindowGrown(uint streamId, uint window) => Log.WindowGrown(_logger, streamId, window);

    internal void OnLocalReset(YamuxStream stream)
    {
        Enqueue(stream);   // the send loop writes RST and fails the outbound side
        TryRemove(stream);
    }

    /// <summary>Drops a stream whose both directions are finished from the table and frees what it held.</summary>
    internal void TryRemove(YamuxStream stream)
    {
        if (!stream.IsFinished)
            return;
        uint reserved = stream.ReceiveWindow;
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            if (stream.Removed)
                return;
            stream.Removed = true;
            if (_state.IsEnded())
                return;
            _streams.Remove(stream.Id);
            if (!stream.IsOutbound)
                _inboundCount--;
            if (stream.AwaitingAck)
            {
                stream.AwaitingAck = false;
                _unacknowledged--;
            }
            ReceiveBudget.Release(reserved);
            waiter = _slotWaiter;
            _slotWaiter = null;
        }
        waiter?.TrySetResult();
        Log.StreamClosed(_logger, stream.Id);
    }

    // ------------------------------------------------------------------ inbound frames (read loop)

    bool IYamuxFrameHandler.IsEnded => _state.IsEnded();

    bool IYamuxFrameHandler.PauseReading => _sender.RefusalsFull;

    async ValueTask IYamuxFrameHandler.WhenReadingMayResumeAsync()
    {
        while (_sender.RefusalsFull && !_state.IsEnded())
            await _sender.WaitForRefusalSpaceAsync().ConfigureAwait(false);
    }

    YamuxDataRoute IYamuxFrameHandler.OnData(in YamuxHeader header)
    {
        YamuxStream? stream = FrameTarget(header);
        if (stream is null)
            return YamuxDataRoute.Drain;
        bool fin = header.Has(YamuxFlags.Fin);
        return stream.OnDataHeader(header.Length) switch
        {
            YamuxStream.DataVerdict.Violation => throw new YamuxProtocolException(
                $"stream {header.StreamId} sent a {header.Length}-byte Data frame beyond its receive window"),
            YamuxStream.DataVerdict.Deliver => YamuxDataRoute.Into(stream, fin),
            _ => YamuxDataRoute.Discard(stream, fin),
        };
    }

    void IYamuxFrameHandler.OnRemoteFin(IYamuxInboundSink stream) => ApplyRemoteFin((YamuxStream)stream);

    void IYamuxFrameHandler.OnWindowUpdate(in YamuxHeader header)
    {
        YamuxStream? stream = FrameTarget(header);
        if (stream is null)
            return;
        if (!stream.OnWindowUpdate(header.Length, Options.MaxSendWindow, out bool wake))
            throw new YamuxProtocolException($"window update of {header.Length} takes stream {header.StreamId}'s send window past {Options.MaxSendWindow}");
        if (wake)
            Enqueue(stream);
        if (header.Has(YamuxFlags.Fin))
            ApplyRemoteFin(stream);
    }

    void IYamuxFrameHandler.OnPing(in YamuxHeader header) => _keepAlive.OnPingFrame(header);

    void IYamuxFrameHandler.OnGoAway(in YamuxHeader header)
    {
        Log.RemoteGoAway(_logger, header.Length);
        if (header.Length != (uint)YamuxGoAwayCode.Normal)
        {
            Terminate(new YamuxGoAwayException(header.Length), goAway: null);
            return;
        }
        // Normal: no new streams either way; existing ones carry on until the connection ends.
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            if (_state == YamuxSessionState.Open)
                _state = YamuxSessionState.GoAwayReceived;
            waiter = _slotWaiter;
            _slotWaiter = null;
        }
        waiter?.TrySetResult();
    }

    /// <summary>
    /// The stream a Data or WindowUpdate frame is for, after its SYN, ACK and RST flags were applied;
    /// null when the rest of the frame is to be ignored (unknown, refused or reset stream).
    /// </summary>
    private YamuxStream? FrameTarget(in YamuxHeader header)
    {
        uint id = header.StreamId;
        if (id == 0)
            throw new YamuxProtocolException($"{header.Type} frame on stream 0");
        if (header.Type == YamuxFrameType.Data && header.Has(YamuxFlags.Syn) && header.Length > YamuxOptions.InitialWindow)
            throw new YamuxProtocolException($"stream {id} opened with {header.Length} bytes, beyond the initial window");

        YamuxStream? stream = header.Has(YamuxFlags.Syn) ? OnRemoteSyn(id) : Find(id);
        if (stream is null)
        {
            // Unknown, refused or already closed: late frames are normal after RST/FIN, so ignore them
            // (go and js do); a Data payload is drained without being buffered.
            Log.UnknownStreamFrame(_logger, header.Type, id, header.Length);
            return null;
        }
        if (header.Has(YamuxFlags.Ack))
            OnAck(stream);
        if (header.Has(YamuxFlags.Rst))
        {
            stream.OnRemoteReset();
            Enqueue(stream);   // the send loop fails the outbound side
            TryRemove(stream);
            return null;
        }
        return stream;
    }

    private void ApplyRemoteFin(YamuxStream stream)
    {
        if (stream.OnRemoteFin())
            TryRemove(stream);
    }

    private YamuxStream? Find(uint id)
    {
        lock (_lock)
            return _streams.GetValueOrDefault(id);
    }

    private YamuxStream? OnRemoteSyn(uint id)
    {
        bool remoteParity = _isClient ? (id & 1) == 0 : (id & 1) == 1;
        if (!remoteParity)
        {
            string role = _isClient ? "clients" : "servers";
            throw new YamuxProtocolException($"SYN for stream {id} has our own id parity: both endpoints are {role}");
        }
        string? refusal = null;
        YamuxStream? stream = null;
        TaskCompletionSource? acceptWaiter = null;
        lock (_lock)
        {
            // A repeated SYN for a live stream is treated as a plain frame, as js does.
            if (_streams.TryGetValue(id, out YamuxStream? existing))
                return existing;
            if (_state.IsEnded())
                refusal = "the session is closing";
            else if (_inboundCount >= Options.MaxInboundStreams)
                refusal = "too many inbound streams";
            else if (_backlog?.Count >= Options.AcceptBacklog)
                refusal = "accept backlog full";
            else if (!ReceiveBudget.TryReserveStream())
                refusal = "receive budget used up";
            else
            {
                stream = new YamuxStream(this, id, outbound: false, Time.GetTimestamp(), Options.StreamSendBuffer);
                _streams.Add(id, stream);
                _inboundCount++;
                (_backlog ??= new Queue<YamuxStream>()).Enqueue(stream);
                acceptWaiter = _acceptWaiter;
                _acceptWaiter = null;
            }
        }
        if (stream is null)
        {
            Log.StreamRefused(_logger, id, refusal!);
            _sender.QueueRefusal(id);
            return null;
        }
        Log.StreamOpened(_logger, id, "inbound");
        acceptWaiter?.TrySetResult();
        return stream;
    }

    private void OnAck(YamuxStream stream)
    {
        TaskCompletionSource? waiter = null;
        lock (_lock)
        {
            if (!stream.AwaitingAck)
                return;
            stream.AwaitingAck = false;
            _unacknowledged--;
            waiter = _slotWaiter;
            _slotWaiter = null;
        }
        waiter?.TrySetResult();
    }
}
