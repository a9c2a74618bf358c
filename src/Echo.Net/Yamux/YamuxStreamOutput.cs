using System.IO.Pipelines;

namespace Echo.Net.Yamux;

/// <summary>
/// The application's end of a stream's outbound pipe. Bytes written through <c>GetSpan</c>/<c>Advance</c>
/// land in the pipe and are framed by the session's send loop after a flush; a large <c>WriteAsync</c> is
/// framed straight from the caller's memory. Either way each byte is copied once, into the connection.
/// Completing this writer half-closes the stream (FIN after the data); completing it with an exception
/// resets the stream.
/// </summary>
internal sealed class YamuxStreamOutput(YamuxStream stream, PipeWriter inner) : PipeWriter
{
    private long _unflushed;
    private bool _completed;

    public override void Advance(int bytes)
    {
        inner.Advance(bytes);
        _unflushed += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        ThrowIfReset();
        return inner.GetMemory(sizeHint);
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        ThrowIfReset();
        return inner.GetSpan(sizeHint);
    }

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (stream.WriteError is not null)
            return ValueTask.FromException<FlushResult>(stream.WriteFailure());
        stream.AddUnsent(_unflushed);
        _unflushed = 0;
        // The pipe commits synchronously inside FlushAsync; the returned task only waits for room.
        ValueTask<FlushResult> flush = inner.FlushAsync(cancellationToken);
        stream.OnFlushed();
        return flush;
    }

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        if (stream.WriteError is not null)
            return ValueTask.FromException<FlushResult>(stream.WriteFailure());
        if (_completed)
            throw new InvalidOperationException("writing is not allowed after the output was completed");
        if (_unflushed == 0 && stream.CanWriteDirect(source.Length))
            return stream.WriteDirectAsync(source, cancellationToken);
        stream.AddUnsent(_unflushed + source.Length);
        _unflushed = 0;
        ValueTask<FlushResult> write = inner.WriteAsync(source, cancellationToken);
        stream.OnFlushed();
        return write;
    }

    public override void CancelPendingFlush()
    {
        inner.CancelPendingFlush();
        stream.CancelDirect(canceledResult: true, default);
    }

    public override void Complete(Exception? exception = null)
    {
        if (_completed)
            return;
        _completed = true;
        if (exception is not null)
        {
            stream.Reset();
            inner.Complete(exception);
            return;
        }
        stream.AddUnsent(_unflushed);
        _unflushed = 0;
        inner.Complete();
        stream.OnOutputCompleted();
    }

    private void ThrowIfReset()
    {
        if (stream.WriteError is not null)
            throw stream.WriteFailure();
    }
}
