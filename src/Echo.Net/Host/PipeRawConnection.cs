using System.IO.Pipelines;
using Echo.Net.Multiformats;

namespace Echo.Net.Host;

/// <summary>
/// Any duplex pipe as a raw connection (a relayed circuit's stream, an in-memory pipe pair), with the
/// addresses it stands for. Disposing completes both pipe ends; <paramref name="onAbort"/>, when given,
/// runs on <see cref="Abort"/> to cut what is below (e.g. reset a relay stream).
/// </summary>
internal sealed class PipeRawConnection(IDuplexPipe pipe, Multiaddr localAddress, Multiaddr remoteAddress, Action? onAbort = null)
    : IRawConnection
{
    private int _disposed;

    public PipeReader Input => pipe.Input;

    public PipeWriter Output => pipe.Output;

    public Multiaddr LocalAddress { get; } = localAddress;

    public Multiaddr RemoteAddress { get; } = remoteAddress;

    public void Abort()
    {
        onAbort?.Invoke();
        pipe.Input.CancelPendingRead();
        pipe.Output.CancelPendingFlush();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Abort();
        await pipe.Input.CompleteAsync().ConfigureAwait(false);
        await pipe.Output.CompleteAsync().ConfigureAwait(false);
    }
}
