// Yamux session: https://github.com/hashicorp/yamux/blob/master/spec.md and
// https://github.com/libp2p/specs/blob/master/yamux/README.md (ACK backlog rules).
//
// Multiplexes streams over one secured connection. Three loops, each owning its part:
//   read loop   reads frames from the connection, updates stream state, copies Data payloads into
//               the streams' inbound pipes; it never waits on a stream or on the writer (except when a
//               peer floods us with streams to refuse faster than it reads our RSTs);
//   send loop   the only writer of the connection: answers pings, refuses streams, and frames the
//               streams' pending data, flags and window updates, flushing once per batch;
//   keep-alive  pings the peer at start (RTT for window auto-tuning) and every KeepAliveInterval; an
//               unanswered ping closes the session.
// Frame layout and flags: see YamuxFrame.cs.

using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Yamux;

internal sealed class YamuxSession : IAsyncDisposable
{
    // Bytes written into the connection before a flush even when more is queued, so the layer below
    // (Noise) starts encrypting while we keep framing.
    private const long FlushThreshold = 256 * 1024;

    // Bytes one stream may write per turn before the next queued stream gets its turn.
    private const long StreamTurn = 4 * YamuxOptions.MaxFramePayload;

    private readonly IDuplexPipe _connection;
    private readonly bool _isClient;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();        // streams table, counters, pings, lifecycle
    private readonly Lock _sendLock = new();    // what the send loop has to write
    private readonly Dictionary<uint, YamuxStream> _streams = [];
    private readonly Queue<YamuxStream> _sendQueue = new();
    private readonly Queue<uint> _pongs = new();
    private readonly Queue<uint> _refusals = new();
    private readonly AsyncAutoResetEvent _sendSignal = new();
    private readonly AsyncAutoResetEvent _refusalSpace = new();
    private readonly AsyncAutoResetEvent _keepAliveSignal = new();
    private readonly CancellationTokenSource _closed = new();
    private readonly CancellationTokenSource _abort = new();
    private ITimer? _keepAliveTimer;
    private Task? _readTask;
    private Task? _sendTask;
    private Task? _keepAliveTask;
    private Task? _closedCallbacks;

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
    private bool _started;
    private bool _terminated;
    private bool _graceful;
    private bool _remoteGoAway;
    private YamuxGoAwayCode? _goAwayToSend;
    private YamuxStream[] _finalStreams = [];
    private ActivePing? _activePing;
    private uint _nextPingId;

    // guarded by _sendLock
    private uint? _pingToSend;
    private int _pongHighWater;
    private bool _pongDropLogged;

    // guarded by _budgetLock (a leaf lock: nothing else is taken while holding it)
    private readonly Lock _budgetLock = new();
    private long _reserved;
    private long _grown;

    private volatile bool _isTerminated;
    private Exception? _error;
    private long _rttTicks;

    // read loop only
    private long _payloadRemaining;
    private YamuxStream? _payloadStream;
    private YamuxStream? _payloadFin;
    private YamuxStream? _unflushedStream;

    public YamuxSession(IDuplexPipe connection, bool isClient, YamuxOptions options, TimeProvider time, ILogger logger)
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
    }

    internal YamuxOptions Options { get; }

    internal TimeProvider Time { get; }

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
    internal TimeSpan Rtt => new(Volatile.Read(ref _rttTicks));

    /// <summary>Receive memory currently committed to stream windows.</summary>
    internal long ReservedReceiveBytes
    {
        get
        {
            lock (_budgetLock)
                return _reserved;
        }
    }

    /// <summary>Most ping answers that were ever queued at once.</summary>
    internal int PongHighWater
    {
        get
        {
            lock (_sendLock)
                return _pongHighWater;
        }
    }

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

    public void Start()
    {
        lock (_lock)
        {
            if (_started || _terminated)
                throw new InvalidOperationException("the session was already started or closed");
            _started = true;
        }
        Log.SessionStarted(_logger, _isClient ? "client" : "server");
        _sendTask = SendLoopAsync();   // runs until its first wait; the read loop awaits it at its end
        _readTask = Task.Run(ReadLoopAsync);
        if (Options.KeepAliveInterval != Timeout.InfiniteTimeSpan)
        {
            _keepAliveTimer = Time.CreateTimer(static state => ((YamuxSession)state!)._keepAliveSignal.Set(), this,
                Options.KeepAliveInterval, Options.KeepAliveInterval);
        }
        _keepAliveTask = KeepAliveLoopAsync();
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
                if (_terminated)
                    throw ClosedException();
                if (_remoteGoAway)
                    throw new IOException($"{YamuxOptions.ProtocolId}: the remote sent GoAway and accepts no new streams");
                if (_nextStreamId > uint.MaxValue)
                    throw new IOException($"{YamuxOptions.ProtocolId}: stream ids of this session are used up");
                if (_unacknowledged < Options.MaxUnacknowledgedStreams && TryReserve(YamuxOptions.InitialWindow))
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
                if (stream is null && _terminated)
                    return null;
                arrived = stream is null ? (_acceptWaiter ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task : Task.CompletedTask;
            }
            if (stream is not null)
            {
                stream.MarkAccepted();
                return stream;
            }
            await arrived.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends a session ping and returns the round-trip time.</summary>
    public Task<TimeSpan> PingAsync(CancellationToken cancellationToken) =>
        PingCoreAsync(Timeout.InfiniteTimeSpan, cancellationToken);

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
            foreach (YamuxStream stream in _finalStreams)
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
        _keepAliveTimer?.Dispose();
    }

    // ------------------------------------------------------------------ lifecycle

    private bool IsTerminated => _isTerminated;

    private IOException ClosedException() =>
        new($"{YamuxOptions.ProtocolId}: the session is closed", Error);

    /// <summary>
    /// Ends the session once: records why, stops the loops and fails what waits on it. A graceful end
    /// lets the send loop write what is already queued before GoAway; otherwise streams fail at once.
    /// </summary>
    private void Terminate(Exception? error, YamuxGoAwayCode? goAway, bool graceful = false)
    {
        YamuxStream[] streams;
        ActivePing? ping;
        TaskCompletionSource? slotWaiter;
        TaskCompletionSource? acceptWaiter;
        lock (_lock)
        {
            if (_terminated)
                return;
            acceptWaiter = _acceptWaiter;
            _acceptWaiter = null;
            _terminated = true;
            _graceful = graceful;
            _goAwayToSend = goAway;
            Volatile.Write(ref _error, error);
            streams = [.. _streams.Values];
            _finalStreams = streams;
            _streams.Clear();
            ping = _activePing;
            _activePing = null;
            slotWaiter = _slotWaiter;
            _slotWaiter = null;
            _isTerminated = true;
        }
        Log.SessionEnded(_logger, error is null ? "normal" : error.GetType().Name, error);
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
        ping?.Completion.TrySetException(ClosedException());
        slotWaiter?.TrySetResult();
        acceptWaiter?.TrySetResult();   // the backlog is still handed out, then null
        _keepAliveTimer?.Dispose();
        _sendSignal.Set();
        _refusalSpace.Set();
        _keepAliveSignal.Set();
        _connection.Input.CancelPendingRead();
        _closedCallbacks = _closed.CancelAsync();
    }

    // ------------------------------------------------------------------ read loop

    private async Task ReadLoopAsync()
    {
        PipeReader input = _connection.Input;
        Exception? error = null;
        YamuxGoAwayCode? goAway = null;
        try
        {
            while (!IsTerminated)
            {
                ReadResult result;
                try
                {
                    result = await input.ReadAsync().ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    error = ex;   // the connection (or the layer below) failed
                    break;
                }
                if (IsTerminated)
                    break;
                ReadOnlySequence<byte> buffer = result.Buffer;
                bool paused = ProcessFrames(ref buffer);
                FlushInbound();
                input.AdvanceTo(buffer.Start, paused ? buffer.Start : result.Buffer.End);
                if (paused)
                {
                    // A peer opening streams faster than it reads our RSTs: stop reading from it until
                    // the refusals are written (or the keep-alive gives up on it).
                    while (RefusalsFull && !IsTerminated)
                        await _refusalSpace.WaitAsync().ConfigureAwait(false);
                    continue;
                }
                if (result.IsCompleted)
                {
                    if (!buffer.IsEmpty || _payloadRemaining > 0)
                        error = new UnexpectedEndException(YamuxOptions.ProtocolId);
                    break;
                }
            }
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
        foreach (YamuxStream stream in _finalStreams)
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

    /// <summary>Handles every complete frame in <paramref name="buffer"/>; true = pause reading.</summary>
    private bool ProcessFrames(ref ReadOnlySequence<byte> buffer)
    {
        while (true)
        {
            if (_payloadRemaining > 0)
            {
                if (buffer.IsEmpty)
                    return false;
                long n = Math.Min(buffer.Length, _payloadRemaining);
                if (_payloadStream is { } target)
                {
                    if (_unflushedStream != target)
                    {
                        _unflushedStream?.FlushInbound();
                        _unflushedStream = target;
                    }
                    target.WriteInbound(buffer.Slice(0, n));
                }
                buffer = buffer.Slice(n);
                _payloadRemaining -= n;
                if (_payloadRemaining > 0)
                    return false;
                _payloadStream = null;
                if (_payloadFin is { } finished)
                {
                    _payloadFin = null;
                    ApplyRemoteFin(finished);
                }
                continue;
            }
            if (IsTerminated || !YamuxFrame.TryReadHeader(ref buffer, out YamuxHeader header))
                return false;
            switch (header.Type)
            {
                case YamuxFrameType.Data:
                case YamuxFrameType.WindowUpdate:
                    HandleStreamFrame(header);
                    break;
                case YamuxFrameType.Ping:
                    HandlePing(header);
                    break;
                case YamuxFrameType.GoAway:
                    HandleGoAway(header);
                    break;
            }
            if (RefusalsFull)
                return true;
        }
    }

    private void FlushInbound()
    {
        _unflushedStream?.FlushInbound();
        _unflushedStream = null;
    }

    private void HandleStreamFrame(in YamuxHeader header)
    {
        uint id = header.StreamId;
        bool isData = header.Type == YamuxFrameType.Data;
        if (id == 0)
            throw new YamuxProtocolException($"{header.Type} frame on stream 0");
        if (isData && header.Has(YamuxFlags.Syn) && header.Length > YamuxOptions.InitialWindow)
            throw new YamuxProtocolException($"stream {id} opened with {header.Length} bytes, beyond the initial window");

        YamuxStream? stream = header.Has(YamuxFlags.Syn) ? OnRemoteSyn(id) : Find(id);
        if (stream is null)
        {
            // Unknown, refused or already closed: late frames are normal after RST/FIN, so ignore them
            // (go and js do); a Data payload is drained without being buffered.
            Log.UnknownStreamFrame(_logger, header.Type, id, header.Length);
            if (isData)
                StartPayload(null, header.Length, null);
            return;
        }
        if (header.Has(YamuxFlags.Ack))
            OnAck(stream);
        if (header.Has(YamuxFlags.Rst))
        {
            if (_unflushedStream == stream)
                _unflushedStream = null;
            stream.OnRemoteReset();
            Enqueue(stream);   // the send loop fails the outbound side
            TryRemove(stream);
            if (isData)
                StartPayload(null, header.Length, null);
            return;
        }
        YamuxStream? fin = header.Has(YamuxFlags.Fin) ? stream : null;
        if (isData)
        {
            switch (stream.OnDataHeader(header.Length))
            {
                case YamuxStream.DataVerdict.Violation:
                    throw new YamuxProtocolException($"stream {id} sent a {header.Length}-byte Data frame beyond its receive window");
                case YamuxStream.DataVerdict.Deliver:
                    StartPayload(stream, header.Length, fin);
                    break;
                default:
                    StartPayload(null, header.Length, fin);
                    break;
            }
            return;
        }
        if (!stream.OnWindowUpdate(header.Length, Options.MaxSendWindow, out bool wake))
            throw new YamuxProtocolException($"window update of {header.Length} takes stream {id}'s send window past {Options.MaxSendWindow}");
        if (wake)
            Enqueue(stream);
        if (fin is not null)
            ApplyRemoteFin(fin);
    }

    private void StartPayload(YamuxStream? target, uint length, YamuxStream? fin)
    {
        if (length == 0)
        {
            if (fin is not null)
                ApplyRemoteFin(fin);
            return;
        }
        _payloadStream = target;
        _payloadRemaining = length;
        _payloadFin = fin;
    }

    private void ApplyRemoteFin(YamuxStream stream)
    {
        if (_unflushedStream == stream)
            _unflushedStream = null;   // OnRemoteFin flushes before completing
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
            if (_terminated)
                refusal = "the session is closing";
            else if (_inboundCount >= Options.MaxInboundStreams)
                refusal = "too many inbound streams";
            else if (_backlog?.Count >= Options.AcceptBacklog)
                refusal = "accept backlog full";
            else if (!TryReserve(YamuxOptions.InitialWindow))
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
            lock (_sendLock)
                _refusals.Enqueue(id);
            _sendSignal.Set();
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

    private void HandlePing(in YamuxHeader header)
    {
        if (header.Has(YamuxFlags.Syn))
        {
            bool queued;
            bool logDrop = false;
            lock (_sendLock)
            {
                queued = _pongs.Count < Options.MaxPendingPongs;
                if (queued)
                {
                    _pongs.Enqueue(header.Length);
                    _pongHighWater = Math.Max(_pongHighWater, _pongs.Count);
                }
                else if (!_pongDropLogged)
                    logDrop = _pongDropLogged = true;
            }
            if (queued)
                _sendSignal.Set();
            else if (logDrop)
                Log.PongsDropped(_logger);
            return;
        }
        if (header.Has(YamuxFlags.Ack))
        {
            ActivePing? ping = null;
            lock (_lock)
            {
                if (_activePing is { } active && active.Id == header.Length)
                {
                    ping = active;
                    _activePing = null;
                }
            }
            if (ping is null)
            {
                Log.OddFrame(_logger, "ping answer that matches no ping of ours");
                return;
            }
            TimeSpan rtt = Time.GetElapsedTime(ping.Started);
            Volatile.Write(ref _rttTicks, Math.Max(rtt.Ticks, 1));
            Log.PingCompleted(_logger, rtt.TotalMilliseconds);
            ping.Completion.TrySetResult(rtt);
            return;
        }
        Log.OddFrame(_logger, "ping with neither SYN nor ACK");
    }

    private void HandleGoAway(in YamuxHeader header)
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
            _remoteGoAway = true;
            waiter = _slotWaiter;
            _slotWaiter = null;
        }
        waiter?.TrySetResult();
    }

    private bool RefusalsFull
    {
        get
        {
            lock (_sendLock)
                return _refusals.Count >= Options.MaxPendingRefusals;
        }
    }

    // ------------------------------------------------------------------ send loop

    /// <summary>Queues a stream for the send loop (at most once at a time).</summary>
    internal void Enqueue(YamuxStream stream)
    {
        lock (_sendLock)
        {
            if (stream.Queued)
                return;
            stream.Queued = true;
            _sendQueue.Enqueue(stream);
        }
        _sendSignal.Set();
    }

    private bool TryDequeue(out YamuxStream stream)
    {
        lock (_sendLock)
        {
            if (_sendQueue.TryDequeue(out stream!))
            {
                stream.Queued = false;
                return true;
            }
            return false;
        }
    }

    private async Task SendLoopAsync()
    {
        PipeWriter output = _connection.Output;
        Exception? failure = null;
        bool outputBroken = false;
        bool outputClosed = false;
        try
        {
            while (true)
            {
                bool terminated = IsTerminated;
                bool graceful;
                lock (_lock)
                    graceful = _graceful;
                if (terminated && !graceful)
                    break;
                long written = WriteControlFrames(output);
                while (written < FlushThreshold && TryDequeue(out YamuxStream stream))
                {
                    written += stream.WriteFrames(output, StreamTurn, out bool more);
                    if (more)
                        Enqueue(stream);
                }
                if (written > 0)
                {
                    FlushResult flush = await output.FlushAsync(_abort.Token).ConfigureAwait(false);
                    if (flush.IsCompleted)
                    {
                        outputClosed = true;   // the layer below closed the connection
                        break;
                    }
                    continue;
                }
                if (terminated)
                    break;   // graceful: everything that could be written is written
                await _sendSignal.WaitAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            failure = ex;   // the connection's writer failed
            outputBroken = true;
        }

        if (outputBroken)
            Terminate(failure, null);
        if (outputClosed)
        {
            // Nothing more can be written. When the peer closed the connection the read side sees
            // EOF (a normal end); when the connection failed it sees the error; a half-open
            // connection fails the keep-alive. Either way the read side ends the session.
            while (!IsTerminated)
                await _sendSignal.WaitAsync().ConfigureAwait(false);
        }
        YamuxGoAwayCode? goAway;
        lock (_lock)
            goAway = _goAwayToSend;
        if (goAway is { } code && !outputBroken && !outputClosed)
        {
            try
            {
                YamuxFrame.Write(output, YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)code);
                await output.FlushAsync(_abort.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Best effort: completing the writer below still hands the frame to the layer below.
            }
        }
        await output.CompleteAsync().ConfigureAwait(false);

        Exception? cause = Error;
        foreach (YamuxStream stream in _finalStreams)
        {
            stream.OnSessionEnded(cause, read: false, write: true);
            stream.AbortOutbound(stream.WriteError ?? ClosedException());
        }
        while (TryDequeue(out YamuxStream stream))
        {
            if (stream.WriteError is { } error)
                stream.AbortOutbound(error);
        }
    }

    /// <summary>Writes ping answers, our ping and refusals (send loop only).</summary>
    private long WriteControlFrames(PipeWriter output)
    {
        long written = 0;
        bool refused = false;
        lock (_sendLock)
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

    // ------------------------------------------------------------------ pings and keep-alive

    private sealed class ActivePing(uint id, long started)
    {
        public uint Id { get; } = id;
        public long Started { get; } = started;
        public TaskCompletionSource<TimeSpan> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// Pings the peer, or joins the ping already in flight (one at a time, as go and js do). The
    /// timeout's timer starts before the frame is queued, so a test clock sees it once the ping is on the wire.
    /// </summary>
    private async Task<TimeSpan> PingCoreAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        ActivePing ping;
        ActivePing? stale = null;
        bool send = false;
        lock (_lock)
        {
            if (_terminated)
                throw ClosedException();
            if (_activePing is { } active && Time.GetElapsedTime(active.Started) >= Options.PingTimeout)
            {
                stale = active;   // its answer was lost; start over rather than wait on it forever
                _activePing = null;
            }
            if (_activePing is null)
            {
                _activePing = new ActivePing(_nextPingId++, Time.GetTimestamp());
                send = true;
            }
            ping = _activePing;
        }
        stale?.Completion.TrySetException(new TimeoutException($"{YamuxOptions.ProtocolId}: ping {stale.Id} was not answered"));
        Task<TimeSpan> answer = ping.Completion.Task.WaitAsync(timeout, Time, cancellationToken);
        if (send)
        {
            lock (_sendLock)
                _pingToSend = ping.Id;
            _sendSignal.Set();
        }
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

    private async Task KeepAliveLoopAsync()
    {
        bool keepAlive = Options.KeepAliveInterval != Timeout.InfiniteTimeSpan;
        TimeSpan timeout = keepAlive ? Options.PingTimeout : Timeout.InfiniteTimeSpan;
        try
        {
            // The first ping measures the RTT at once, which receive-window auto-tuning needs.
            while (!IsTerminated)
            {
                try
                {
                    await PingCoreAsync(timeout, CancellationToken.None).ConfigureAwait(false);
                }
                catch (TimeoutException) when (!IsTerminated)
                {
                    Log.KeepAliveTimeout(_logger, timeout.TotalMilliseconds);
                    Terminate(new TimeoutException(
                        $"{YamuxOptions.ProtocolId}: keep-alive ping not answered within {timeout.TotalSeconds} s"), null);
                    return;
                }
                if (!keepAlive)
                    return;
                await _keepAliveSignal.WaitAsync().ConfigureAwait(false);
            }
        }
        catch (Exception) when (IsTerminated)
        {
            // The session ended while a ping was in flight.
        }
        catch (Exception ex)
        {
            Log.InternalError(_logger, ex);
            Terminate(ex, YamuxGoAwayCode.InternalError);
        }
    }

    // ------------------------------------------------------------------ bookkeeping used by streams

    /// <summary>Reserves a new stream's initial window; false when it would pass the session budget.</summary>
    internal bool TryReserve(long bytes)
    {
        lock (_budgetLock)
        {
            if (_reserved + bytes > Options.MaxSessionReceiveBuffer)
                return false;
            _reserved += bytes;
            return true;
        }
    }

    /// <summary>
    /// Reserves auto-tuning growth. Growth may take at most half the budget in total, so a few bulk
    /// transfers with large windows never leave the session unable to accept new streams.
    /// </summary>
    internal bool TryGrow(long bytes)
    {
        lock (_budgetLock)
        {
            if (_reserved + bytes > Options.MaxSessionReceiveBuffer || _grown + bytes > Options.MaxSessionReceiveBuffer / 2)
                return false;
            _reserved += bytes;
            _grown += bytes;
            return true;
        }
    }

    private void Release(uint window)
    {
        lock (_budgetLock)
        {
            _reserved -= window;
            _grown -= window - YamuxOptions.InitialWindow;
        }
    }

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
        uint reserved = stream.ReservedWindowSnapshot;
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            if (stream.Removed)
                return;
            stream.Removed = true;
            if (_terminated)
                return;
            _streams.Remove(stream.Id);
            if (!stream.IsOutbound)
                _inboundCount--;
            if (stream.AwaitingAck)
            {
                stream.AwaitingAck = false;
                _unacknowledged--;
            }
            Release(reserved);
            waiter = _slotWaiter;
            _slotWaiter = null;
        }
        waiter?.TrySetResult();
        Log.StreamClosed(_logger, stream.Id);
    }
}
