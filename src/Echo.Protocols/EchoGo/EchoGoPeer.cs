using System.IO.Pipelines;
using System.Threading.Channels;
using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols.EchoGo;

/// <summary>
/// One connected echo-go peer: the queue of lines for it, which one writer task writes, each line
/// once, to the stream <see cref="EchoGoStreamSet"/> chooses; the line being written when a write
/// fails goes to the next stream.
/// </summary>
internal sealed class EchoGoPeer
{
    /// <summary>Lines queued for a peer with no usable stream or that does not read; more are dropped.</summary>
    public const int MaxQueuedLines = 256;

    private readonly EchoGoStreamSet _streams = new();
    private readonly Channel<byte[]> _lines;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public EchoGoPeer(PeerId peer, TimeProvider time, ILogger logger)
    {
        Peer = peer;
        _time = time;
        _logger = logger;
        _lines = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(MaxQueuedLines)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.DropWrite,
        }, _ => Log.EchoGoLineDropped(_logger, Peer));
    }

    public PeerId Peer { get; }

    /// <summary>Ends the writer and the peer's timers: its connection is gone.</summary>
    public CancellationTokenSource Lifetime { get; } = new();

    /// <summary>The writer task, once started.</summary>
    public Task Writer { get; private set; } = Task.CompletedTask;

    /// <summary>When we open our own stream to it. Guarded by the owner.</summary>
    public EchoGoOpens Opens { get; } = new();

    public void StartWriter() => Writer = WriteLoopAsync(Lifetime.Token);

    public void Send(byte[] line) => _lines.Writer.TryWrite(line);

    /// <summary>How many of its streams are open, and which kind lines go to (null: none yet).</summary>
    public (int Open, bool? SendsOnOutbound, bool HasInbound, bool HasOutbound) Describe() => _streams.Describe();

    /// <summary>A new open stream; returns true when both kinds are now open (the two opens crossed).</summary>
    public bool Add(EchoGoStream stream) => _streams.Add(stream);

    /// <summary>The stream was closed by the peer or failed; returns how many remain open.</summary>
    public int Remove(EchoGoStream stream) => _streams.Remove(stream);

    private async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            await foreach (byte[] line in _lines.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                while (true)
                {
                    EchoGoStream? target = _streams.Target(_time.GetTimestamp(), out Task changed, out long? settles);
                    if (target is null)
                    {
                        TimeSpan wait = settles is { } at ? _time.GetElapsedTime(_time.GetTimestamp(), at) : Timeout.InfiniteTimeSpan;
                        if (wait != Timeout.InfiniteTimeSpan && wait < TimeSpan.Zero)
                            wait = TimeSpan.Zero;
                        await changed.WaitAsync(wait, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                        cancellationToken.ThrowIfCancellationRequested();
                        continue;
                    }
                    if (await WriteAsync(target, line, cancellationToken).ConfigureAwait(false))
                        break;
                    Remove(target);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<bool> WriteAsync(EchoGoStream target, byte[] line, CancellationToken cancellationToken)
    {
        try
        {
            FlushResult flushed = await target.Stream.Output.WriteAsync(line, cancellationToken).ConfigureAwait(false);
            return !flushed.IsCompleted && !flushed.IsCanceled;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            Log.EchoGoWriteFailed(_logger, Peer, e.Message);
            return false;
        }
    }
}
