// Yamux session: https://github.com/hashicorp/yamux/blob/master/spec.md and
// https://github.com/libp2p/specs/blob/master/yamux/README.md (ACK backlog rules).
//
// Multiplexes streams over one secured connection. Three loops, each owning its part:
//   read loop   (YamuxSession.ReadLoop.cs) reads frames from the connection, updates stream state,
//               copies Data payloads into the streams' inbound pipes; it never waits on a stream or on
//               the writer (except when a peer floods us with streams to refuse faster than it reads
//               our RSTs);
//   send loop   (YamuxSendLoop.cs) the only writer of the connection: answers pings, refuses streams,
//               and frames the streams' pending data, flags and window updates, flushing once per batch;
//   keep-alive  (YamuxKeepAlive.cs) pings the peer at start (RTT for window auto-tuning) and every
//               KeepAliveInterval; an unanswered ping closes the session.
// This file holds the lifecycle (YamuxSessionState), the stream table, and opening/accepting streams.
// Receive memory is counted by YamuxReceiveBudget, windows by YamuxWindows.cs. Frame layout: YamuxFrame.cs.

using System.IO.Pipelines;
using Echo.Net.ResourceManager;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Yamux;

internal sealed partial class YamuxSession : IAsyncDisposable
{
    private readonly IDuplexPipe _connection;
    private readonly bool _isClient;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();        // state, streams table, counters, backlog
    private readonly Dictionary<uint, YamuxStream> _streams = [];
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
        _readTask = Task.Run(ReadLoopAsync);
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
            await arrived.WaitAsync(cancellationToken).ConfigureAwait(false);
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

    internal IOException ClosedException() =>
        new($"{YamuxOptions.ProtocolId}: the session is closed", Error);

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
}
