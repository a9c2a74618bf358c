using System.IO.Pipelines;
using System.Threading.Channels;
using Echo.Net.Host;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols.EchoGo;

/// <summary>
/// One echo-go stream: a writer task drains a bounded queue of lines onto it. Retiring it (it lost
/// the tie-break, or its peer closed its side) stops new lines, finishes the queued ones and
/// half-closes our side; reading goes on until the peer closes its side.
/// </summary>
internal sealed class EchoGoStream
{
    /// <summary>Lines queued for a peer that does not read; more are dropped.</summary>
    public const int MaxQueuedLines = 256;

    private readonly Channel<byte[]> _lines;
    private readonly ILogger _logger;

    public EchoGoStream(P2PStream stream, bool outbound, ILogger logger)
    {
        Stream = stream;
        Outbound = outbound;
        _logger = logger;
        _lines = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(MaxQueuedLines)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.DropWrite,
        }, _ => Log.EchoGoLineDropped(_logger, Stream.RemotePeer));
        Writer = WriteLoopAsync();
    }

    public P2PStream Stream { get; }

    /// <summary>True when we opened it.</summary>
    public bool Outbound { get; }

    /// <summary>Completes when our side is half-closed (or the stream failed).</summary>
    public Task Writer { get; }

    public void Send(byte[] line) => _lines.Writer.TryWrite(line);

    /// <summary>No more lines: write the queued ones, then half-close.</summary>
    public void Retire() => _lines.Writer.TryComplete();

    private async Task WriteLoopAsync()
    {
        await Task.Yield();
        try
        {
            await foreach (byte[] line in _lines.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                FlushResult flushed = await Stream.Output.WriteAsync(line).ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                    break;
            }
            await Stream.CompleteOutputAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            Log.EchoGoWriteFailed(_logger, Stream.RemotePeer, e.Message);
            Stream.Reset();
        }
    }
}
