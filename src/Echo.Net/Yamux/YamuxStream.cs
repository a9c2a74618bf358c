using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Tasks.Sources;

namespace Echo.Net.Yamux;

/// <summary>
/// One yamux stream. <see cref="Input"/> and <see cref="Output"/> are ordinary pipe ends for the layers
/// above (multistream-select, then a protocol handler).
/// </summary>
/// <remarks>
/// Who touches what:
/// <list type="bullet">
/// <item>the session's read loop alone writes into the inbound pipe (one copy: connection buffer to
/// stream buffer) and completes its writer;</item>
/// <item>the session's send loop alone reads the outbound pipe and frames it into the connection writer
/// (one copy), or copies straight from the caller's memory for large <c>WriteAsync</c> calls;</item>
/// <item>the application reads <see cref="Input"/> and writes <see cref="Output"/>; consuming input grants
/// window back to the peer, flushing output wakes the send loop.</item>
/// </list>
/// Flow-control and state fields are guarded by <c>_sync</c>, held only for arithmetic, never across an
/// await or a copy. Lock order: session locks may be held while taking <c>_sync</c>, never the reverse.
/// </remarks>
internal sealed class YamuxStream : IValueTaskSource<FlushResult>
{
    // Segments are rented from the shared array pool only while bytes are buffered: an idle stream holds
    // none. 16 KiB keeps a 64 KiB frame at four segments without wasting much on small messages.
    private const int SegmentSize = 16 * 1024;

    // Writes at least this large skip the outbound pipe and are framed from the caller's memory.
    private const int DirectWriteThreshold = 16 * 1024;

    private readonly YamuxSession _session;
    private readonly Lock _sync = new();
    private readonly Pipe _inbound;
    private readonly Pipe _outbound;
    private readonly YamuxStreamInput _input;
    private readonly YamuxStreamOutput _output;

    // ---- receive direction (guarded by _sync unless noted)
    private uint _recvCredit = YamuxOptions.InitialWindow;   // bytes the peer may still send
    private uint _recvWindow = YamuxOptions.InitialWindow;   // current window size (auto-tuned)
    private long _recvBuffered;                               // announced by the peer, not yet consumed
    private long _lastGrant;                                  // timestamp of the last window update
    private bool _remoteFin;
    private bool _inputDone;                                  // the application completed Input
    private Exception? _readError;                            // reset / session end seen by readers
    private bool _inboundWriterDone;                          // read loop only
    private bool _inboundUnflushed;                           // read loop only

    // ---- send direction (guarded by _sync unless noted)
    private long _sendWindow = YamuxOptions.InitialWindow;
    private YamuxFlags _pendingFlags;                         // SYN or ACK still to be sent
    private uint _pendingDelta;                               // window granted, not yet sent
    private bool _peerKnowsStream;                            // a RST is only worth sending if so
    private bool _finSent;
    private bool _rstPending;
    private Exception? _writeError;
    private bool _outboundReaderDone;                         // send loop only
    private long _unsent;                                     // flushed into the outbound pipe, not framed (Interlocked)

    // ---- a large WriteAsync framed straight from the caller's memory (guarded by _sync)
    private ReadOnlyMemory<byte> _direct;
    private bool _directActive;
    private bool _directBusy;                                 // the send loop is copying from it
    private bool _directCancel;                               // canceled while busy
    private bool _directCancelResult;                         // ... by CancelPendingFlush, not by the token
    private CancellationToken _directToken;
    private CancellationTokenRegistration _directRegistration;
    private ManualResetValueTaskSourceCore<FlushResult> _directCore = new() { RunContinuationsAsynchronously = true };

    internal YamuxStream(YamuxSession session, uint id, bool outbound, long timestamp, int sendBuffer)
    {
        _session = session;
        Id = id;
        IsOutbound = outbound;
        _lastGrant = timestamp;
        _pendingFlags = outbound ? YamuxFlags.Syn : YamuxFlags.None;
        _peerKnowsStream = !outbound;
        // Flow control bounds the inbound pipe, so it never pauses the read loop.
        _inbound = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: SegmentSize,
            useSynchronizationContext: false));
        _outbound = new Pipe(new PipeOptions(pauseWriterThreshold: sendBuffer, resumeWriterThreshold: sendBuffer / 2,
            minimumSegmentSize: SegmentSize, useSynchronizationContext: false));
        _input = new YamuxStreamInput(this, _inbound.Reader);
        _output = new YamuxStreamOutput(this, _outbound.Writer);
    }

    public uint Id { get; }

    /// <summary>Remote FIN completes the reader after the buffered bytes; RST makes reads throw <see cref="StreamResetException"/>.</summary>
    public PipeReader Input => _input;

    /// <summary>Writes obey the peer's window: flushes wait while the peer is not reading.</summary>
    public PipeWriter Output => _output;

    internal bool IsOutbound { get; }

    // Guarded by the session's locks.
    internal bool Queued;
    internal bool AwaitingAck;
    internal bool Removed;

    /// <summary>Half-close: everything written so far is sent, then FIN. Reading stays possible.</summary>
    public ValueTask CompleteOutputAsync() => _output.CompleteAsync();

    /// <summary>Aborts both directions at once (RST); pending and later reads and writes throw.</summary>
    public void Reset()
    {
        StreamResetException error = new(Id, "was reset locally");
        lock (_sync)
        {
            bool readOpen = _readError is null && !(_remoteFin && _inputDone);
            bool writeOpen = _writeError is null && !_finSent;
            if (!readOpen && !writeOpen)
                return;
            _readError ??= error;
            _writeError ??= error;
            // Once both FINs crossed, the peer has forgotten the stream: a RST would be noise.
            _rstPending = !(_finSent && _remoteFin);
        }
        _inbound.Reader.CancelPendingRead();
        FailDirect(error);
        _session.OnLocalReset(this);
    }

    // ------------------------------------------------------------------ receive side: read loop

    internal enum DataVerdict { Deliver, Discard, Violation }

    /// <summary>Accounts a Data frame's length against our window (read loop, at header time).</summary>
    internal DataVerdict OnDataHeader(uint length)
    {
        lock (_sync)
        {
            if (length > _recvCredit)
                return DataVerdict.Violation;
            _recvCredit -= length;
            if (_readError is not null || _remoteFin || _inputDone)
                return DataVerdict.Discard;
            _recvBuffered += length;
            return DataVerdict.Deliver;
        }
    }

    /// <summary>Copies payload bytes into the inbound pipe (read loop).</summary>
    internal void WriteInbound(in ReadOnlySequence<byte> payload)
    {
        if (_inboundWriterDone)
            return;
        PipeWriter writer = _inbound.Writer;
        foreach (ReadOnlyMemory<byte> segment in payload)
        {
            // Ask for room for the whole piece (at most a frame's payload): a full 64 KiB frame lands in
            // one pooled segment instead of four 16 KiB ones. A bulk receiver allocated 10-22 MB per GB in
            // segment bookkeeping with 16 KiB pieces; small messages still get 16 KiB segments.
            ReadOnlySpan<byte> source = segment.Span;
            while (!source.IsEmpty)
            {
                Span<byte> destination = writer.GetSpan(Math.Min(source.Length, YamuxOptions.MaxFramePayload));
                int n = Math.Min(source.Length, destination.Length);
                source[..n].CopyTo(destination);
                writer.Advance(n);
                source = source[n..];
            }
        }
        _inboundUnflushed = true;
    }

    /// <summary>Makes copied bytes visible to the reader (read loop). Never blocks: the pipe has no pause threshold.</summary>
    internal void FlushInbound()
    {
        if (!_inboundUnflushed || _inboundWriterDone)
            return;
        _inboundUnflushed = false;
        ValueTask<FlushResult> flush;
        try
        {
            flush = _inbound.Writer.FlushAsync(CancellationToken.None);
        }
        catch (Exception)
        {
            return;   // the application completed Input with an error: nobody reads these bytes
        }
        // A pipe without a pause threshold completes every flush synchronously; the read loop must
        // never wait on one stream's reader, so anything else is a broken invariant.
        if (!flush.IsCompleted)
            throw new InvalidOperationException("inbound stream pipe paused the read loop");
        if (!flush.IsCompletedSuccessfully)
            _ = flush.AsTask().Exception;   // observe it; the reader already completed with this error
        else
            _ = flush.Result;
    }

    /// <summary>Remote FIN: the reader sees the end after the buffered bytes (read loop).</summary>
    internal bool OnRemoteFin()
    {
        lock (_sync)
        {
            if (_remoteFin || _readError is not null)
                return false;
            _remoteFin = true;
        }
        FlushInbound();
        CompleteInboundWriter(null);
        return true;
    }

    /// <summary>Remote RST: both directions fail (read loop).</summary>
    internal void OnRemoteReset()
    {
        StreamResetException error = new(Id, "was reset by the remote");
        lock (_sync)
        {
            _readError ??= error;
            _writeError ??= error;
            _rstPending = false;
        }
        CompleteInboundWriter(error);
        FailDirect(error);
    }

    /// <summary>The session ended: the named directions, if still open, fail (any thread).</summary>
    internal void OnSessionEnded(Exception? cause, bool read, bool write)
    {
        bool readFailed = false;
        bool writeFailed = false;
        lock (_sync)
        {
            if (read && !_remoteFin && _readError is null)
            {
                _readError = new StreamResetException(Id, "is closed because its session ended", cause);
                readFailed = true;
            }
            if (write)
            {
                if (!_finSent && _writeError is null)
                {
                    _writeError = new StreamResetException(Id, "is closed because its session ended", cause);
                    writeFailed = true;
                }
                _rstPending = false;   // the whole session is going: no per-stream RST
            }
        }
        if (readFailed)
            _inbound.Reader.CancelPendingRead();
        if (writeFailed)
            FailDirect(_writeError!);
    }

    /// <summary>Completes the inbound pipe writer once (read loop, or the session's final clean-up).</summary>
    internal void CompleteInboundWriter(Exception? error)
    {
        if (_inboundWriterDone)
            return;
        _inboundWriterDone = true;
        _inbound.Writer.Complete(error);
    }

    /// <summary>Adds a window update's delta; false when it would pass <paramref name="max"/> (read loop).</summary>
    internal bool OnWindowUpdate(uint delta, long max, out bool wake)
    {
        lock (_sync)
        {
            long window = _sendWindow + delta;
            wake = false;
            if (window > max)
                return false;
            wake = delta > 0 && _writeError is null;
            _sendWindow = window;
            return true;
        }
    }

    // ------------------------------------------------------------------ receive side: application

    /// <summary>The application consumed <paramref name="bytes"/>; grant them back when half the window is free.</summary>
    internal void OnConsumed(long bytes)
    {
        if (bytes <= 0)
            return;
        lock (_sync)
        {
            _recvBuffered -= bytes;
            if (_readError is not null || _remoteFin || _inputDone)
                return;
            // Same rule as go and rust: grant once at least half the window has been consumed, so a
            // stream costs one window update per half window, not one per frame.
            long delta = _recvWindow - (_recvCredit + _recvBuffered);
            if (delta < _recvWindow / 2)
                return;
            long now = _session.Time.GetTimestamp();
            TimeSpan rtt = _session.Rtt;
            if (rtt > TimeSpan.Zero && _recvWindow < _session.Options.MaxReceiveWindow
                && _session.Time.GetElapsedTime(_lastGrant, now) < rtt * 4)
            {
                // The reader drains a window faster than ~4 round trips: the window, not the reader,
                // limits throughput, so double it (as go and js do), if the session budget allows.
                uint grown = (uint)Math.Min((long)_recvWindow * 2, _session.Options.MaxReceiveWindow);
                if (_session.TryGrow(grown - _recvWindow))
                {
                    _session.LogWindowGrown(Id, grown);
                    _recvWindow = grown;
                    delta = _recvWindow - (_recvCredit + _recvBuffered);
                }
            }
            _lastGrant = now;
            _recvCredit += (uint)delta;
            _pendingDelta += (uint)delta;
        }
        _session.Enqueue(this);
    }

    /// <summary>The application completed Input: later data is discarded and no more window is granted.</summary>
    internal void OnInputCompleted()
    {
        lock (_sync)
        {
            if (_inputDone)
                return;
            _inputDone = true;
            _recvBuffered = 0;
        }
        _session.TryRemove(this);
    }

    internal Exception? ReadError => Volatile.Read(ref _readError);

    internal Exception? WriteError => Volatile.Read(ref _writeError);

    // ------------------------------------------------------------------ send side: application

    /// <summary>The application is about to commit <paramref name="bytes"/> to the outbound pipe.</summary>
    /// <remarks>Counted before they become visible, so the count never runs behind the send loop.</remarks>
    internal void AddUnsent(long bytes)
    {
        if (bytes > 0)
            Interlocked.Add(ref _unsent, bytes);
    }

    /// <summary>Bytes were committed to the outbound pipe: wake the send loop.</summary>
    internal void OnFlushed() => _session.Enqueue(this);

    /// <summary>True when a write may bypass the outbound pipe without overtaking earlier bytes.</summary>
    internal bool CanWriteDirect(int length) => length >= DirectWriteThreshold && Volatile.Read(ref _unsent) == 0;

    /// <summary>Frames <paramref name="source"/> straight from the caller's memory; completes once all of it is copied out.</summary>
    internal ValueTask<FlushResult> WriteDirectAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled<FlushResult>(cancellationToken);
        short version;
        lock (_sync)
        {
            if (_writeError is not null)
                return ValueTask.FromException<FlushResult>(WriteFailure());
            if (_directActive)
                throw new InvalidOperationException("a write is already in progress on this stream");
            _directCore.Reset();
            version = _directCore.Version;
            _direct = source;
            _directActive = true;
            _directCancel = false;
            _directToken = cancellationToken;
        }
        if (cancellationToken.CanBeCanceled)
        {
            CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(
                static (state, token) => ((YamuxStream)state!).CancelDirect(canceledResult: false, token), this);
            bool stale;
            lock (_sync)
            {
                stale = !_directActive || _directToken != cancellationToken;
                if (!stale)
                    _directRegistration = registration;
            }
            if (stale)
                registration.Unregister();
        }
        _session.Enqueue(this);
        return new ValueTask<FlushResult>(this, version);
    }

    /// <summary>Cancels a pending direct write (token fired, or <c>CancelPendingFlush</c>).</summary>
    internal void CancelDirect(bool canceledResult, CancellationToken token)
    {
        CancellationTokenRegistration registration;
        lock (_sync)
        {
            if (!_directActive || (!canceledResult && _directToken != token))
                return;
            if (_directBusy)
            {
                _directCancel = true;   // the send loop finishes it after its copy
                _directCancelResult = canceledResult;
                return;
            }
            registration = EndDirect();
        }
        registration.Unregister();
        if (canceledResult)
            _directCore.SetResult(new FlushResult(isCanceled: true, isCompleted: false));
        else
            _directCore.SetException(new OperationCanceledException(token));
    }

    internal void FailDirect(Exception error)
    {
        CancellationTokenRegistration registration;
        lock (_sync)
        {
            if (!_directActive)
                return;
            if (_directBusy)
            {
                _directCancel = true;
                return;
            }
            registration = EndDirect();
        }
        registration.Unregister();
        _directCore.SetException(WriteFailure(error));
    }

    private CancellationTokenRegistration EndDirect()
    {
        CancellationTokenRegistration registration = _directRegistration;
        _directRegistration = default;
        _directActive = false;
        _directCancel = false;
        _directCancelResult = false;
        _direct = default;
        return registration;
    }

    /// <summary>The application completed Output: FIN follows the bytes already written.</summary>
    internal void OnOutputCompleted() => _session.Enqueue(this);

    internal Exception WriteFailure(Exception? error = null)
    {
        error ??= WriteError;
        return error as StreamResetException
            ?? new StreamResetException(Id, "is closed because its session ended", error);
    }

    /// <summary>Marks the stream accepted: the next frame we send carries ACK.</summary>
    internal void MarkAccepted()
    {
        lock (_sync)
            _pendingFlags |= YamuxFlags.Ack;
        _session.Enqueue(this);
    }

    // ------------------------------------------------------------------ send side: send loop

    /// <summary>
    /// Writes this stream's pending frames (RST, or data within the send window, then any flags,
    /// window update and FIN) into the connection writer. Send loop only. Returns the bytes written;
    /// <paramref name="more"/> says the stream still has sendable data beyond <paramref name="budget"/>.
    /// </summary>
    internal long WriteFrames(PipeWriter output, long budget, out bool more)
    {
        more = false;
        YamuxFlags flags;
        long window;
        bool sendRst;
        Exception? writeError;
        lock (_sync)
        {
            writeError = _writeError;
            sendRst = writeError is not null && _rstPending && _peerKnowsStream;
            _rstPending = false;
            flags = _pendingFlags;
            window = _sendWindow;
        }

        if (writeError is not null)
        {
            long n = 0;
            if (sendRst)
            {
                YamuxFrame.Write(output, YamuxFrameType.WindowUpdate, YamuxFlags.Rst, Id, 0);
                n = YamuxFrame.HeaderLength;
            }
            AbortOutbound(writeError);
            return n;
        }

        long written = 0;
        long sent = 0;
        YamuxFlags sentFlags = YamuxFlags.None;
        bool pipeEnded = false;
        bool budgetHit = false;
        while (true)
        {
            if (written >= budget)
            {
                budgetHit = true;
                break;
            }
            int max = (int)Math.Min(window - sent, YamuxOptions.MaxFramePayload);
            if (!_outboundReaderDone && _outbound.Reader.TryRead(out ReadResult result))
            {
                ReadOnlySequence<byte> buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    if (max <= 0)
                    {
                        _outbound.Reader.AdvanceTo(buffer.Start);
                        break;
                    }
                    int n = (int)Math.Min(buffer.Length, max);
                    YamuxFrame.Write(output, YamuxFrameType.Data, flags, Id, (uint)n);
                    ReadOnlySequence<byte> chunk = buffer.Slice(0, n);
                    foreach (ReadOnlyMemory<byte> segment in chunk)
                        output.Write(segment.Span);
                    _outbound.Reader.AdvanceTo(chunk.End);
                    Interlocked.Add(ref _unsent, -n);
                    sentFlags |= flags;
                    flags = YamuxFlags.None;
                    sent += n;
                    written += YamuxFrame.HeaderLength + n;
                    continue;
                }
                // Empty: either completed (FIN is due, whatever the window) or a spurious wake-up.
                _outbound.Reader.AdvanceTo(buffer.End);
                pipeEnded = result.IsCompleted;
            }
            if (max <= 0 || !WriteDirectChunk(output, max, flags, out int copied))
                break;
            sentFlags |= flags;
            flags = YamuxFlags.None;
            sent += copied;
            written += YamuxFrame.HeaderLength + copied;
        }

        uint delta;
        bool sendFin;
        lock (_sync)
        {
            _sendWindow -= sent;
            _pendingFlags &= ~sentFlags;
            flags = _pendingFlags;
            _pendingFlags = YamuxFlags.None;
            delta = _pendingDelta;
            _pendingDelta = 0;
            sendFin = pipeEnded && !_directActive && !_finSent && _writeError is null;
            if (sendFin)
                _finSent = true;
            if (((flags | sentFlags) & YamuxFlags.Syn) != 0)
                _peerKnowsStream = true;
            // Out of turn: come back even with a closed window, FIN may still be due.
            more = budgetHit;
        }
        if (flags != YamuxFlags.None || delta != 0 || sendFin)
        {
            YamuxFrame.Write(output, YamuxFrameType.WindowUpdate, flags | (sendFin ? YamuxFlags.Fin : 0), Id, delta);
            written += YamuxFrame.HeaderLength;
        }
        if (sendFin)
        {
            _outboundReaderDone = true;
            _outbound.Reader.Complete();
            _session.TryRemove(this);
        }
        return written;
    }

    private bool WriteDirectChunk(PipeWriter output, int max, YamuxFlags flags, out int copied)
    {
        ReadOnlyMemory<byte> chunk;
        lock (_sync)
        {
            if (!_directActive || _directCancel || _direct.IsEmpty)
            {
                copied = 0;
                return false;
            }
            chunk = _direct[..Math.Min(_direct.Length, max)];
            _directBusy = true;
        }
        YamuxFrame.Write(output, YamuxFrameType.Data, flags, Id, (uint)chunk.Length);
        output.Write(chunk.Span);
        copied = chunk.Length;

        CancellationTokenRegistration registration = default;
        bool finished = false;
        bool canceled = false;
        bool canceledResult = false;
        Exception? error = null;
        CancellationToken token;
        lock (_sync)
        {
            _directBusy = false;
            _direct = _direct[chunk.Length..];
            token = _directToken;
            if (_direct.IsEmpty || _directCancel)
            {
                finished = true;
                canceled = _directCancel && !_direct.IsEmpty;
                canceledResult = _directCancelResult;
                error = _writeError;
                registration = EndDirect();
            }
        }
        if (finished)
        {
            registration.Unregister();
            if (canceled && error is not null)
                _directCore.SetException(WriteFailure(error));
            else if (canceled && canceledResult)
                _directCore.SetResult(new FlushResult(isCanceled: true, isCompleted: false));
            else if (canceled)
                _directCore.SetException(new OperationCanceledException(token));
            else
                _directCore.SetResult(default);
        }
        return true;
    }

    /// <summary>Fails the outbound side: pending and later flushes see the error (send loop only).</summary>
    internal void AbortOutbound(Exception error)
    {
        if (!_outboundReaderDone)
        {
            _outboundReaderDone = true;
            _outbound.Reader.Complete(WriteFailure(error));
        }
        FailDirect(error);
    }

    // ------------------------------------------------------------------ removal bookkeeping

    /// <summary>Both directions are finished: the stream can leave the session's table.</summary>
    internal bool IsFinished
    {
        get
        {
            lock (_sync)
            {
                bool writeDone = _finSent || _writeError is not null;
                bool readDone = _remoteFin || _inputDone || _readError is not null;
                return writeDone && readDone;
            }
        }
    }

    /// <summary>Receive memory this stream holds in the session budget: its whole window.</summary>
    internal uint ReservedWindowSnapshot
    {
        get
        {
            lock (_sync)
                return _recvWindow;
        }
    }

    /// <summary>Bytes buffered for the application and not yet consumed (tests and diagnostics).</summary>
    internal long BufferedBytes
    {
        get
        {
            lock (_sync)
                return _recvBuffered;
        }
    }

    internal long SendWindow
    {
        get
        {
            lock (_sync)
                return _sendWindow;
        }
    }

    internal uint ReceiveWindow
    {
        get
        {
            lock (_sync)
                return _recvWindow;
        }
    }

    // ------------------------------------------------------------------ IValueTaskSource<FlushResult> (direct writes)

    FlushResult IValueTaskSource<FlushResult>.GetResult(short token) => _directCore.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => _directCore.GetStatus(token);

    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => _directCore.OnCompleted(continuation, state, token, flags);
}
