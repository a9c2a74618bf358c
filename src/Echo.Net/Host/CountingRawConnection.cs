using System.Buffers;
using System.IO.Pipelines;
using Echo.Net.Multiformats;

namespace Echo.Net.Host;

/// <summary>
/// A raw connection that counts the bytes it carries each way, as a relay counts them against a
/// circuit's data limit (Noise and yamux framing included). Used for limited connections, so the
/// chat can keep what it sends within what remains (<see cref="Connection.DataRemaining"/>).
/// </summary>
internal sealed class CountingRawConnection : IRawConnection
{
    private readonly IRawConnection _inner;
    private readonly CountingReader _input;
    private readonly CountingWriter _output;

    public CountingRawConnection(IRawConnection inner)
    {
        _inner = inner;
        _input = new CountingReader(inner.Input);
        _output = new CountingWriter(inner.Output);
    }

    /// <summary>Bytes read from the remote so far.</summary>
    public long BytesReceived => _input.Count;

    /// <summary>Bytes written to the remote so far.</summary>
    public long BytesSent => _output.Count;

    public PipeReader Input => _input;

    public PipeWriter Output => _output;

    public Multiaddr LocalAddress => _inner.LocalAddress;

    public Multiaddr RemoteAddress => _inner.RemoteAddress;

    public void Abort() => _inner.Abort();

    public ValueTask DisposeAsync() => _inner.DisposeAsync();

    private sealed class CountingReader(PipeReader inner) : PipeReader
    {
        private long _count;
        private ReadOnlySequence<byte> _last;

        public long Count => Interlocked.Read(ref _count);

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            Interlocked.Add(ref _count, _last.Slice(_last.Start, consumed).Length);
            _last = default;
            inner.AdvanceTo(consumed, examined);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
        {
            ReadResult result = await inner.ReadAsync(cancellationToken).ConfigureAwait(false);
            _last = result.Buffer;
            return result;
        }

        public override bool TryRead(out ReadResult result)
        {
            if (!inner.TryRead(out result))
                return false;
            _last = result.Buffer;
            return true;
        }
    }

    private sealed class CountingWriter(PipeWriter inner) : PipeWriter
    {
        private long _count;

        public long Count => Interlocked.Read(ref _count);

        public override void Advance(int bytes)
        {
            Interlocked.Add(ref _count, bytes);
            inner.Advance(bytes);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);
    }
}
