using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Tasks.Sources;

namespace Echo.Net.Yamux;

/// <summary>
/// A large <c>WriteAsync</c> on one stream, framed by the send loop straight from the caller's memory
/// instead of being copied into the outbound pipe first. The caller's task completes once every byte
/// is copied into the connection (or the write is canceled or the stream fails).
/// </summary>
/// <remarks>
/// Shares the stream's lock (<c>sync</c>): starting a write and failing the stream must not cross.
/// The send loop copies outside the lock, marked <c>_busy</c>; a cancel or failure meanwhile is only
/// noted and applied after the copy, so the caller's memory is never read after its task completed.
/// </remarks>
internal sealed class YamuxDirectWrite(YamuxStream stream, Lock sync) : IValueTaskSource<FlushResult>
{
    // guarded by sync
    private ReadOnlyMemory<byte> _memory;
    private bool _active;
    private bool _busy;                 // the send loop is copying from it
    private bool _cancel;               // canceled (or failed) while busy
    private bool _cancelResult;         // ... by CancelPendingFlush, not by the token
    private CancellationToken _token;
    private CancellationTokenRegistration _registration;
    private ManualResetValueTaskSourceCore<FlushResult> _core = new() { RunContinuationsAsynchronously = true };

    /// <summary>A write is pending (caller holds the stream's lock).</summary>
    public bool IsActiveLocked => _active;

    /// <summary>Starts a write; the caller holds the stream's lock and has checked the stream can write.</summary>
    public ValueTask<FlushResult> StartLocked(ReadOnlyMemory<byte> source, CancellationToken cancellationToken)
    {
        if (_active)
            throw new InvalidOperationException("a write is already in progress on this stream");
        _core.Reset();
        _memory = source;
        _active = true;
        _cancel = false;
        _token = cancellationToken;
        return new ValueTask<FlushResult>(this, _core.Version);
    }

    /// <summary>Hooks the token up once the write is started (outside the stream's lock).</summary>
    public void Register(CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled)
            return;
        CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(
            static (state, token) => ((YamuxDirectWrite)state!).Cancel(canceledResult: false, token), this);
        bool stale;
        lock (sync)
        {
            stale = !_active || _token != cancellationToken;
            if (!stale)
                _registration = registration;
        }
        if (stale)
            registration.Unregister();
    }

    /// <summary>Cancels a pending write (token fired, or <c>CancelPendingFlush</c>).</summary>
    public void Cancel(bool canceledResult, CancellationToken token)
    {
        CancellationTokenRegistration registration;
        lock (sync)
        {
            if (!_active || (!canceledResult && _token != token))
                return;
            if (_busy)
            {
                _cancel = true;   // the send loop finishes it after its copy
                _cancelResult = canceledResult;
                return;
            }
            registration = End();
        }
        registration.Unregister();
        if (canceledResult)
            _core.SetResult(new FlushResult(isCanceled: true, isCompleted: false));
        else
            _core.SetException(new OperationCanceledException(token));
    }

    /// <summary>Fails a pending write with the stream's error.</summary>
    public void Fail(Exception error)
    {
        CancellationTokenRegistration registration;
        lock (sync)
        {
            if (!_active)
                return;
            if (_busy)
            {
                _cancel = true;
                return;
            }
            registration = End();
        }
        registration.Unregister();
        _core.SetException(stream.WriteFailure(error));
    }

    /// <summary>
    /// Frames up to <paramref name="max"/> bytes of the pending write into <paramref name="output"/>
    /// (send loop only). False when there is nothing to copy.
    /// </summary>
    public bool TryWriteChunk(PipeWriter output, int max, YamuxFlags flags, out int copied)
    {
        ReadOnlyMemory<byte> chunk;
        lock (sync)
        {
            if (!_active || _cancel || _memory.IsEmpty)
            {
                copied = 0;
                return false;
            }
            chunk = _memory[..Math.Min(_memory.Length, max)];
            _busy = true;
        }
        YamuxFrame.Write(output, YamuxFrameType.Data, flags, stream.Id, (uint)chunk.Length);
        output.Write(chunk.Span);
        copied = chunk.Length;

        CancellationTokenRegistration registration = default;
        bool finished = false;
        bool canceled = false;
        bool canceledResult = false;
        Exception? error = null;
        CancellationToken token;
        lock (sync)
        {
            _busy = false;
            _memory = _memory[chunk.Length..];
            token = _token;
            if (_memory.IsEmpty || _cancel)
            {
                finished = true;
                canceled = _cancel && !_memory.IsEmpty;
                canceledResult = _cancelResult;
                error = stream.WriteError;
                registration = End();
            }
        }
        if (finished)
        {
            registration.Unregister();
            if (canceled && error is not null)
                _core.SetException(stream.WriteFailure(error));
            else if (canceled && canceledResult)
                _core.SetResult(new FlushResult(isCanceled: true, isCompleted: false));
            else if (canceled)
                _core.SetException(new OperationCanceledException(token));
            else
                _core.SetResult(default);
        }
        return true;
    }

    private CancellationTokenRegistration End()
    {
        CancellationTokenRegistration registration = _registration;
        _registration = default;
        _active = false;
        _cancel = false;
        _cancelResult = false;
        _memory = default;
        return registration;
    }

    FlushResult IValueTaskSource<FlushResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<FlushResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<FlushResult>.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => _core.OnCompleted(continuation, state, token, flags);
}
