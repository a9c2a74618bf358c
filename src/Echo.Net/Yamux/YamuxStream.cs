using System.Buffers;
using System.IO.Pipelines;

namespace Echo.Net.Yamux;

/// <summary>
/// One yamux stream. <see cref="Input"/> and <see cref="Output"/> are ordinary pipe ends for the layers
/// above (multistream-select, then a protocol handler).
/// </summary>
/// <remarks>
/// Who touches what:
/// <list type="bullet">
/// <item>the session's read loop alone writes into the inbound pipe (its <see cref="YamuxFrameReader"/> copies
/// once: connection buffer to stream buffer) and completes its writer;</item>
/// <item>the session's send loop alone reads the outbound pipe and frames it into the connection writer
/// (one copy), or copies straight from the caller's memory for large <c>WriteAsync</c> calls;</item>
/// <item>the application reads <see cref="Input"/> and writes <see cref="Output"/>; consuming input grants
/// window back to the peer, flushing output wakes the send loop.</item>
/// </list>
/// Each direction's state is one enum (<see cref="YamuxSendState"/>, <see cref="YamuxReceiveState"/>); the
/// windows are <see cref="YamuxReceiveWindow"/> and <see cref="YamuxSendWindow"/>. State and window fields are
/// guarded by <c>_sync</c>, held only for arithmetic, never across an await or a copy. Lock order: session
/// locks may be held while taking <c>_sync</c>, never the reverse.
/// </remarks>
internal sealed class YamuxStream : IYamuxInboundSink
{
    // Segments are rented from the shared array pool only while bytes are buffered: an idle stream holds
    // none. 16 KiB keeps a 64 KiB frame at four segments without wasting much on small messages.
    private const int SegmentSize = 16 * 1024;

    // Writes at least this large skip the outbound pipe and are framed from the caller's memory.
    private const int DirectWriteThreshold = 16 * 1024;

    // Flow control bounds the inbound pipe, so it never pauses the read loop. Pipe options are immutable
    // and shared by every stream: a relay holds two streams per circuit, each with two pipes.
    private static readonly PipeOptions s_inboundOptions = new(pauseWriterThreshold: 0, minimumSegmentSize: SegmentSize,
        useSynchronizationContext: false);

    // The outbound options for the last send-buffer size used (every session of a host uses the same one).
    private static PipeOptions? s_outboundOptions;

    private readonly YamuxSession _session;
    private readonly Lock _sync = new();
    private readonly Pipe _inbound;
    private readonly Pipe _outbound;
    private readonly YamuxStreamInput _input;
    private readonly YamuxStreamOutput _output;

    // ---- receive direction (guarded by _sync unless noted)
    private YamuxReceiveState _receiveState;
    private YamuxReceiveWindow _receiveWindow;
    private bool _inputDone;                                  // the application completed Input
    private Exception? _readError;                            // why the state is Reset
    private bool _inboundWriterDone;                          // read loop only
    private bool _inboundUnflushed;                           // read loop only

    // ---- send direction (guarded by _sync unless noted)
    private YamuxSendState _sendState;
    private YamuxSendWindow _sendWindow = new();
    private YamuxFlags _pendingFlags;                         // SYN or ACK still to be sent
    private bool _peerKnowsStream;                            // a RST is only worth sending if so
    private bool _rstPending;                                 // Reset by us: RST still to be written
    private Exception? _writeError;                           // why the state is Reset
    private bool _outboundReaderDone;                         // send loop only
    private long _unsent;                                     // flushed into the outbound pipe, not framed (Interlocked)
    private YamuxDirectWrite? _direct;                        // created on the first large write

    internal YamuxStream(YamuxSession session, uint id, bool outbound, long timestamp, int sendBuffer)
    {
        _session = session;
        Id = id;
        IsOutbound = outbound;
        _receiveWindow = new YamuxReceiveWindow(timestamp);
        _pendingFlags = outbound ? YamuxFlags.Syn : YamuxFlags.None;
        _peerKnowsStream = !outbound;
        _inbound = new Pipe(s_inboundOptions);
        _outbound = new Pipe(OutboundOptions(sendBuffer));
        _input = new YamuxStreamInput(this, _inbound.Reader);
        _output = new YamuxStreamOutput(this, _outbound.Writer);
    }

    private static PipeOptions OutboundOptions(int sendBuffer)
    {
        PipeOptions? options = Volatile.Read(ref s_outboundOptions);
        if (options is null || options.PauseWriterThreshold != sendBuffer)
        {
            options = new PipeOptions(pauseWriterThreshold: sendBuffer, resumeWriterThreshold: sendBuffer / 2,
                minimumSegmentSize: SegmentSize, useSynchronizationContext: false);
            Volatile.Write(ref s_outboundOptions, options);
        }
        return options;
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
            bool readOpen = _receiveState == YamuxReceiveState.Open || (_receiveState == YamuxReceiveState.FinReceived && !_inputDone);
            bool writeOpen = _sendState is YamuxSendState.Open or YamuxSendState.FinQueued;
            if (!readOpen && !writeOpen)
                return;
            // Once both FINs crossed, the peer has forgotten the stream: a RST would be noise.
            _rstPending = !(_sendState == YamuxSendState.FinSent && _receiveState == YamuxReceiveState.FinReceived);
            ResetReceiveLocked(error);
            ResetSendLocked(error);
        }
        _inbound.Reader.CancelPendingRead();
        FailDirect(error);
        _session.OnLocalReset(this);
    }

    private void ResetReceiveLocked(Exception error)
    {
        if (_receiveState == YamuxReceiveState.Reset)
            return;
        _receiveState = YamuxReceiveState.Reset;
        Volatile.Write(ref _readError, error);
    }

    private void ResetSendLocked(Exception error)
    {
        if (_sendState == YamuxSendState.Reset)
            return;
        _sendState = YamuxSendState.Reset;
        Volatile.Write(ref _writeError, error);
    }

    /// <summary>Data is discarded and no window granted once the peer finished, a reset happened or the application stopped reading.</summary>
    private bool ReceiveClosedLocked => _receiveState != YamuxReceiveState.Open || _inputDone;

    // ------------------------------------------------------------------ receive side: read loop

    internal enum DataVerdict { Deliver, Discard, Violation }

    /// <summary>Accounts a Data frame's length against our window (read loop, at header time).</summary>
    internal DataVerdict OnDataHeader(uint length)
    {
        lock (_sync)
        {
            if (!_receiveWindow.TrySpend(length))
                return DataVerdict.Violation;
            if (ReceiveClosedLocked)
                return DataVerdict.Discard;
            _receiveWindow.Buffer(length);
            return DataVerdict.Deliver;
        }
    }

    /// <summary>Copies payload bytes into the inbound pipe (read loop).</summary>
    public void WriteInbound(in ReadOnlySequence<byte> payload)
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
    public void FlushInbound()
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
            if (_receiveState != YamuxReceiveState.Open)
                return false;
            _receiveState = YamuxReceiveState.FinReceived;
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
            ResetReceiveLocked(error);
            ResetSendLocked(error);
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
            if (read && _receiveState == YamuxReceiveState.Open)
            {
                ResetReceiveLocked(new StreamResetException(Id, "is closed because its session ended", cause));
                readFailed = true;
            }
            if (write)
            {
                if (_sendState is YamuxSendState.Open or YamuxSendState.FinQueued)
                {
                    ResetSendLocked(new StreamResetException(Id, "is closed because its session ended", cause));
                    writeFailed = true;
                }
                _rstPending = false;   // the whole session is going: no per-stream RST
            }
        }
        if (readFailed)
            _inbound.Reader.CancelPendingRead();
        if (writeFailed)
            FailDirect(WriteError!);
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
            wake = false;
            if (!_sendWindow.TryAdd(delta, max))
                return false;
            wake = delta > 0 && _sendState != YamuxSendState.Reset;
            return true;
        }
    }

    // ------------------------------------------------------------------ receive side: application

    /// <summary>The application consumed <paramref name="bytes"/>; grant them back when half the window is free.</summary>
    internal void OnConsumed(long bytes)
    {
        if (bytes <= 0)
            return;
        bool grew;
        uint window;
        lock (_sync)
        {
            _receiveWindow.Consume(bytes);
            if (ReceiveClosedLocked)
                return;
            if (!_receiveWindow.TryGrant(_session.Time.GetTimestamp(), _session.Time, _session.Rtt,
                    _session.Options.MaxReceiveWindow, _session.ReceiveBudget, out grew))
                return;
            window = _receiveWindow.Size;
        }
        if (grew)
            _session.LogWindowGrown(Id, window);
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
            _receiveWindow.DropBuffered();
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
        YamuxDirectWrite direct;
        ValueTask<FlushResult> pending;
        lock (_sync)
        {
            if (_sendState == YamuxSendState.Reset)
                return ValueTask.FromException<FlushResult>(WriteFailure());
            direct = _direct ??= new YamuxDirectWrite(this, _sync);
            pending = direct.StartLocked(source, cancellationToken);
        }
        direct.Register(cancellationToken);
        _session.Enqueue(this);
        return pending;
    }

    /// <summary>Cancels a pending direct write (token fired, or <c>CancelPendingFlush</c>).</summary>
    internal void CancelDirect(bool canceledResult, CancellationToken token) =>
        Volatile.Read(ref _direct)?.Cancel(canceledResult, token);

    internal void FailDirect(Exception error) => Volatile.Read(ref _direct)?.Fail(error);

    /// <summary>The application completed Output: FIN follows the bytes already written.</summary>
    internal void OnOutputCompleted()
    {
        lock (_sync)
        {
            if (_sendState == YamuxSendState.Open)
                _sendState = YamuxSendState.FinQueued;
        }
        _session.Enqueue(this);
    }

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
        YamuxDirectWrite? direct;
        lock (_sync)
        {
            writeError = _sendState == YamuxSendState.Reset ? _writeError : null;
            sendRst = writeError is not null && _rstPending && _peerKnowsStream;
            _rstPending = false;
            flags = _pendingFlags;
            window = _sendWindow.Available;
            direct = _direct;
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
            if (max <= 0 || direct is null || !direct.TryWriteChunk(output, max, flags, out int copied))
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
            _sendWindow.Spend(sent);
            _pendingFlags &= ~sentFlags;
            flags = _pendingFlags;
            _pendingFlags = YamuxFlags.None;
            delta = _receiveWindow.TakePendingDelta();
            sendFin = pipeEnded && _direct?.IsActiveLocked != true
                && _sendState is YamuxSendState.Open or YamuxSendState.FinQueued;
            if (sendFin)
                _sendState = YamuxSendState.FinSent;
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
                bool writeDone = _sendState is YamuxSendState.FinSent or YamuxSendState.Reset;
                return writeDone && ReceiveClosedLocked;
            }
        }
    }

    /// <summary>Receive memory this stream holds in the session budget: its whole window.</summary>
    internal uint ReceiveWindow
    {
        get
        {
            lock (_sync)
                return _receiveWindow.Size;
        }
    }

    /// <summary>Bytes buffered for the application and not yet consumed (tests and diagnostics).</summary>
    internal long BufferedBytes
    {
        get
        {
            lock (_sync)
                return _receiveWindow.Buffered;
        }
    }

    internal long SendWindow
    {
        get
        {
            lock (_sync)
                return _sendWindow.Available;
        }
    }
}
