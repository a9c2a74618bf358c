using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace Echo.Net.Yamux;

/// <summary>
/// The application's end of a stream's inbound pipe. It forwards to the pipe and counts what the
/// application consumes (<c>AdvanceTo</c>), because consumed bytes are what flow control grants back.
/// </summary>
internal sealed class YamuxStreamInput(YamuxStream stream, PipeReader inner) : PipeReader
{
    private ReadOnlySequence<byte> _lastBuffer;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfReset();
        ValueTask<ReadResult> read = inner.ReadAsync(cancellationToken);
        return read.IsCompletedSuccessfully ? new ValueTask<ReadResult>(OnRead(read.Result)) : ReadSlowAsync(read);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReadResult> ReadSlowAsync(ValueTask<ReadResult> read) =>
        OnRead(await read.ConfigureAwait(false));

    public override bool TryRead(out ReadResult result)
    {
        ThrowIfReset();
        if (!inner.TryRead(out result))
            return false;
        result = OnRead(result);
        return true;
    }

    private ReadResult OnRead(ReadResult result)
    {
        // A local reset or the end of the session cancels the pending read; report it as a reset.
        if (stream.ReadError is not null)
            ThrowIfReset();
        _lastBuffer = result.Buffer;
        return result;
    }

    private void ThrowIfReset()
    {
        if (stream.ReadError is { } error)
            throw error as StreamResetException ?? new StreamResetException(stream.Id, "is closed because its session ended", error);
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        long bytes = _lastBuffer.IsEmpty ? 0 : _lastBuffer.Slice(_lastBuffer.Start, consumed).Length;
        inner.AdvanceTo(consumed, examined);
        _lastBuffer = default;
        stream.OnConsumed(bytes);
    }

    public override void CancelPendingRead() => inner.CancelPendingRead();

    public override void Complete(Exception? exception = null)
    {
        inner.Complete(exception);
        stream.OnInputCompleted();
    }
}
