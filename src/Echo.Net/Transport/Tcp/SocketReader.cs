using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Echo.Net.Transport.Tcp;

/// <summary>
/// The receive side of a TCP socket as a <see cref="PipeReader"/>, driven by its caller: a
/// <see cref="ReadAsync"/> that finds nothing new receives from the socket on the caller's own
/// thread, so bytes reach the layer above (Noise) with no hand-off to another task.
/// </summary>
/// <remarks>
/// <para>Received bytes sit in one contiguous rented buffer, so every read returns a single-segment
/// sequence and a Noise frame never has to be gathered from two segments before it is decrypted.
/// Unconsumed bytes move to the front of the buffer when the space behind them runs out (at most a
/// partial frame, as the consumer takes whole frames).</para>
/// <para>Memory: while no data is expected the reader waits with a zero-byte receive and holds no
/// buffer (it is returned to the pool once everything is consumed), so an idle connection costs no
/// receive memory. The receive size adapts: it starts at <see cref="MinimumReceiveSize"/> (handshake
/// messages are a few hundred bytes), doubles whenever a receive fills it and halves when a receive
/// uses less than a quarter of it. Reading a bulk transfer 1 MiB per call cost 15-20 % less CPU per
/// byte than 64 KiB on loopback (0.52 against 0.70 CPU-seconds per GB for a bare .NET socket pair),
/// while a fixed large buffer made every handshake rent one: 256 KiB buffers from the shared pool
/// were 4 MB of the listener's heap after 500 handshakes.</para>
/// <para>A buffer above <see cref="UnmeteredSize"/> (a whole Noise frame and more) needs a share of the
/// process's <see cref="ReceiveAllowance"/>; without one the reader receives at most that size, so many
/// connections pushing at once cannot make the process hold a megabyte each.</para>
/// </remarks>
internal sealed class SocketReader : PipeReader
{
    internal const int MinimumReceiveSize = 4 * 1024;
    internal const int MaximumReceiveSize = 1024 * 1024;

    /// <summary>Largest buffer a reader rents without a share of the <see cref="ReceiveAllowance"/>: a whole Noise frame fits.</summary>
    internal const int UnmeteredSize = 128 * 1024;

    /// <summary>
    /// Buffers above <see cref="UnmeteredSize"/> come from a pool of their own that keeps at most 8 of
    /// each size (256 KiB, 512 KiB, 1 MiB: 14 MiB). The shared pool keeps one per size per thread as
    /// well as 32 per core, so after a flood it held 67 MiB of them.
    /// </summary>
    private static readonly ArrayPool<byte> LargeBuffers = ArrayPool<byte>.Create(MaximumReceiveSize, maxArraysPerBucket: 8);

    private readonly Socket _socket;
    private readonly ReceiveAllowance _allowance;
    private byte[]? _buffer;                        // rented while unconsumed bytes exist (or a receive is in progress)
    private int _charged;                           // what _buffer took from the allowance
    private int _start;                             // unconsumed bytes are _buffer[_start.._end]
    private int _end;
    private int _receiveSize = MinimumReceiveSize;
    private bool _needMoreData;                     // everything buffered was examined: the next read must receive
    private bool _lastReceiveFilled;                // the last receive filled its space: more is probably waiting
    private bool _receivedEnd;                      // the remote closed its side
    private IOException? _failure;                  // a receive failed: every later read throws it
    private CancellationTokenSource? _cancelRead;   // created on first use; canceled by CancelPendingRead
    private int _readCanceled;                      // 1: CancelPendingRead came; the next (or pending) read returns canceled
    private ReadOnlySequence<byte> _lastBuffer;
    private bool _completed;

    public SocketReader(Socket socket, ReceiveAllowance? allowance = null)
    {
        _socket = socket;
        _allowance = allowance ?? ReceiveAllowance.Shared;
    }

    /// <summary>Bytes the next receive asks for (tests and diagnostics).</summary>
    internal int ReceiveSize => _receiveSize;

    /// <summary>Length of the rented receive buffer, 0 when none (tests and diagnostics).</summary>
    internal int BufferLength => _buffer?.Length ?? 0;

    /// <summary>True while a receive buffer is rented (tests and diagnostics).</summary>
    internal bool HoldsBuffer => _buffer is not null;

    public override bool TryRead(out ReadResult result)
    {
        ThrowIfCompleted();
        if (Interlocked.Exchange(ref _readCanceled, 0) != 0)
        {
            result = Buffered(isCanceled: true);
            return true;
        }
        if (_failure is not null)
            throw _failure;
        if (_needMoreData && !_receivedEnd)
        {
            result = default;
            return false;
        }
        result = Buffered(isCanceled: false);
        return !result.Buffer.IsEmpty || result.IsCompleted;
    }

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (TryRead(out ReadResult result))
            return new ValueTask<ReadResult>(result);
        if (cancellationToken.IsCancellationRequested)
            return ValueTask.FromCanceled<ReadResult>(cancellationToken);
        return ReceiveAsync(cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> ReceiveAsync(CancellationToken cancellationToken)
    {
        if (_cancelRead is { IsCancellationRequested: true } spent)
        {
            _cancelRead = null;   // fired while no read was pending (that read already returned canceled)
            spent.Dispose();
        }
        CancellationTokenSource cancelRead = _cancelRead ??= new CancellationTokenSource();
        // CancelPendingRead sets the flag, then cancels whatever source it sees: checking the flag after
        // publishing the source means one of the two always notices the other.
        Interlocked.MemoryBarrier();
        if (Interlocked.Exchange(ref _readCanceled, 0) != 0)
            return Buffered(isCanceled: true);
        CancellationTokenRegistration link = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), cancelRead)
            : default;
        try
        {
            if (!_lastReceiveFilled)
            {
                // The socket was drained last time: wait for data without holding a buffer.
                await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancelRead.Token).ConfigureAwait(false);
            }
            Memory<byte> space = ReceiveSpace();
            int received = await _socket.ReceiveAsync(space, SocketFlags.None, cancelRead.Token).ConfigureAwait(false);
            if (received == 0)
            {
                _receivedEnd = true;
            }
            else
            {
                _end += received;
                AdaptReceiveSize(received, space.Length);
                _needMoreData = false;
            }
        }
        catch (OperationCanceledException) when (cancelRead.IsCancellationRequested)
        {
            _cancelRead = null;   // spent: the next read gets a fresh one
            cancelRead.Dispose();
            ReleaseIfEmpty();
            cancellationToken.ThrowIfCancellationRequested();
            Interlocked.Exchange(ref _readCanceled, 0);
            return Buffered(isCanceled: true);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _failure = e is SocketException
                ? new IOException($"receiving from the connection failed: {e.Message}", e)
                : new IOException("the connection is closed", e);
            throw _failure;
        }
        finally
        {
            link.Dispose();
        }
        return Buffered(isCanceled: false);
    }

    /// <summary>Free space behind the unconsumed bytes, at least a receive's worth (moving or growing the buffer).</summary>
    private Memory<byte> ReceiveSpace()
    {
        if (_buffer is null)
        {
            _buffer = RentBuffer(_receiveSize, 0, out _charged);
            return _buffer;
        }
        int unconsumed = _end - _start;
        if (_buffer.Length - _end >= _receiveSize || (_buffer.Length - _end >= MinimumReceiveSize && _start == 0))
            return _buffer.AsMemory(_end);
        // Moving a partial frame to the front is enough while it leaves half a receive's worth: renting
        // unconsumed + a receive would round up to twice the buffer (2 MiB for a 1 MiB receive).
        if (_buffer.Length - unconsumed >= Math.Max(_receiveSize / 2, MinimumReceiveSize))
        {
            _buffer.AsSpan(_start, unconsumed).CopyTo(_buffer);   // a partial frame to the front
        }
        else
        {
            byte[] larger = RentBuffer(unconsumed <= _receiveSize / 2 ? _receiveSize : unconsumed + _receiveSize, unconsumed, out int charge);
            _buffer.AsSpan(_start, unconsumed).CopyTo(larger);
            ReturnBuffer();
            _buffer = larger;
            _charged = charge;
        }
        _start = 0;
        _end = unconsumed;
        return _buffer.AsMemory(_end);
    }

    /// <summary>
    /// Rents a buffer of at least <paramref name="wanted"/> bytes, with a share of the allowance when it
    /// is larger than <see cref="UnmeteredSize"/>; without a share, one of the unmetered size (or just
    /// large enough to keep <paramref name="keep"/> bytes and receive more, charged anyway).
    /// </summary>
    private byte[] RentBuffer(int wanted, int keep, out int charge)
    {
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)wanted);
        charge = 0;
        if (size > UnmeteredSize)
        {
            if (_allowance.TryTake(size))
            {
                charge = size;
                return LargeBuffers.Rent(size);
            }
            else
            {
                _receiveSize = Math.Min(_receiveSize, UnmeteredSize);
                size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(UnmeteredSize, keep + MinimumReceiveSize));
                if (size > UnmeteredSize)
                {
                    _allowance.Take(size);
                    charge = size;
                    return LargeBuffers.Rent(size);
                }
            }
        }
        return ArrayPool<byte>.Shared.Rent(size);
    }

    /// <summary>Returns the buffer to the pool and its share to the allowance.</summary>
    private void ReturnBuffer()
    {
        (_buffer!.Length > UnmeteredSize ? LargeBuffers : ArrayPool<byte>.Shared).Return(_buffer);
        _buffer = null;
        if (_charged > 0)
            _allowance.Give(_charged);
        _charged = 0;
    }

    private void AdaptReceiveSize(int received, int offered)
    {
        _lastReceiveFilled = received == offered;
        if (_lastReceiveFilled)
            _receiveSize = Math.Min(_receiveSize * 2, MaximumReceiveSize);
        else if (received < _receiveSize / 4)
            _receiveSize = Math.Max(_receiveSize / 2, MinimumReceiveSize);
    }

    private ReadResult Buffered(bool isCanceled)
    {
        _lastBuffer = _buffer is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_buffer, _start, _end - _start);
        return new ReadResult(_lastBuffer, isCanceled, isCompleted: _receivedEnd);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        ThrowIfCompleted();
        ReadOnlySequence<byte> last = _lastBuffer;
        _lastBuffer = default;
        if (last.IsEmpty)
        {
            _needMoreData = true;
            return;
        }
        _start += (int)last.Slice(last.Start, consumed).Length;
        _needMoreData = last.Slice(examined).IsEmpty;   // examined up to the end: nothing new until the next receive
        ReleaseIfEmpty();
    }

    /// <summary>Returns the buffer to the pool once nothing in it is unconsumed: an idle reader holds none.</summary>
    private void ReleaseIfEmpty()
    {
        if (_buffer is null || _start != _end)
            return;
        ReturnBuffer();
        _start = _end = 0;
    }

    public override void CancelPendingRead()
    {
        Interlocked.Exchange(ref _readCanceled, 1);
        try
        {
            Volatile.Read(ref _cancelRead)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // That read already ended; the flag covers the next one.
        }
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
            return;
        _completed = true;
        _lastBuffer = default;
        if (_buffer is not null)
            ReturnBuffer();
        _cancelRead?.Dispose();
    }

    private void ThrowIfCompleted()
    {
        if (_completed)
            throw new InvalidOperationException("the reader was completed");
    }
}
