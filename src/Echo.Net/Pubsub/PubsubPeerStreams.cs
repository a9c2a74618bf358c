using System.IO.Pipelines;
using System.Threading.Channels;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Pubsub;

/// <summary>
/// One pubsub peer's two streams (rust-libp2p's handler.rs, js's stream.ts): ours to it, written from
/// a bounded queue of encoded RPCs by a loop that batches them into few flushes, and its to us, read
/// one length-prefixed RPC at a time and handed to the router. The stream fields are set under the
/// router's lock; the queue, <see cref="QueuedBytes"/>, <see cref="Stalled"/> and the room signal are
/// safe from any thread.
/// </summary>
internal sealed class PubsubPeerStreams
{
    /// <summary>A flush takes at most this many bytes of queued RPCs.</summary>
    private const int MaxBatch = 256 * 1024;

    /// <summary>A batch under this many bytes waits a thread-pool turn for more before it is flushed.</summary>
    private const int SmallBatch = 4096;

    /// <summary>At most this many thread-pool turns are spent waiting for a small batch to grow.</summary>
    private const int MaxBatchTurns = 4;

    private readonly PeerId _peer;
    private readonly long _maxQueueBytes;
    private readonly ILogger _logger;
    private readonly Channel<byte[]> _queue;
    private readonly Lock _roomGate = new();
    private TaskCompletionSource? _room;
    private long _queuedBytes;
    private bool _stalled;

    public PubsubPeerStreams(PeerId peer, int maxQueueLength, long maxQueueBytes, ILogger logger)
    {
        _peer = peer;
        _maxQueueBytes = maxQueueBytes;
        _logger = logger;
        _queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(maxQueueLength)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,      // only TryWrite is used: full means "drop"
        });
    }

    /// <summary>Our stream to the peer, once open (under the router's lock).</summary>
    public P2PStream? Outbound { get; set; }

    /// <summary>The peer's stream to us (under the router's lock).</summary>
    public P2PStream? Inbound { get; set; }

    /// <summary>Our stream to the peer is being opened (under the router's lock).</summary>
    public bool OpeningOutbound { get; set; }

    /// <summary>Bytes of RPCs queued and not yet written.</summary>
    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    /// <summary>A publish waited <see cref="PubsubOptions.MaxPublishWait"/> in vain; cleared when the queue moves.</summary>
    public bool Stalled
    {
        get => Volatile.Read(ref _stalled);
        set => Volatile.Write(ref _stalled, value);
    }

    /// <summary>Queues <paramref name="rpc"/>; false when the queue is full (by count or bytes) or completed.</summary>
    public bool TryEnqueue(byte[] rpc)
    {
        if (Interlocked.Read(ref _queuedBytes) + rpc.Length > _maxQueueBytes || !_queue.Writer.TryWrite(rpc))
            return false;
        Interlocked.Add(ref _queuedBytes, rpc.Length);
        return true;
    }

    /// <summary>Takes no more RPCs; the write loop sends what is queued and half-closes.</summary>
    public void CompleteQueue() => _queue.Writer.TryComplete();

    /// <summary>Completes the next time the writer takes RPCs off the queue (or the peer goes).</summary>
    public Task NextRoomAsync()
    {
        lock (_roomGate)
            return (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
    }

    /// <summary>Wakes publishers waiting for room; called by the writer after it dequeued, and when the peer goes.</summary>
    public void SignalRoom()
    {
        Stalled = false;
        TaskCompletionSource? room;
        lock (_roomGate)
        {
            room = _room;
            _room = null;
        }
        room?.TrySetResult();
    }

    /// <summary>
    /// Writes the queue to <paramref name="stream"/> until the queue is completed (then half-closes
    /// it) or the stream fails (then resets it). Returns false on failure.
    /// </summary>
    public async Task<bool> WriteAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        await Task.Yield();                  // leave the caller's lock
        ChannelReader<byte[]> queue = _queue.Reader;
        bool failed = false;
        try
        {
            while (await queue.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                // Several queued RPCs share one flush (and so one Noise frame, yamux frame and syscall when small).
                int batched = Drain(queue, stream, 0);
                for (int turn = 0; turn < MaxBatchTurns && batched < SmallBatch; turn++)
                {
                    // A publisher writing back to back is usually about to queue the next RPC: a turn of the
                    // thread pool lets it, and they go out together instead of paying a flush each. A turn
                    // that brought nothing ends the wait.
                    await Task.Yield();
                    int before = batched;
                    batched = Drain(queue, stream, batched);
                    if (batched == before)
                        break;
                }
                SignalRoom();
                FlushResult flushed = await stream.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    failed = true;
                    break;
                }
            }
            if (!failed)
                await stream.CompleteOutputAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            failed = true;
        }
        catch (Exception e)
        {
            failed = true;
            Log.WriteFailed(_logger, _peer, e.Message);
        }
        if (failed)
            stream.Reset();
        return !failed;
    }

    /// <summary>Writes queued RPCs to the stream's buffer up to <see cref="MaxBatch"/> bytes; returns the bytes batched so far.</summary>
    private int Drain(ChannelReader<byte[]> queue, P2PStream stream, int batched)
    {
        while (batched < MaxBatch && queue.TryRead(out byte[]? rpc))
        {
            LengthPrefixed.Write(stream.Output, rpc);
            Interlocked.Add(ref _queuedBytes, -rpc.Length);
            batched += rpc.Length;
        }
        return batched;
    }

    /// <summary>
    /// Reads <paramref name="stream"/> one RPC at a time (each at most <see cref="PubsubRpcCodec.MaxRpcSize"/>)
    /// and hands it to <paramref name="handle"/>, until the peer half-closes (we half-close too) or
    /// <paramref name="handle"/> returns false (the stream is reset). A reset or lost stream ends it quietly.
    /// </summary>
    public async Task ReadAsync(P2PStream stream, PubsubOptions options, Func<DecodedRpc, CancellationToken, ValueTask<bool>> handle,
        CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                byte[]? frame = await stream.Input.ReadLengthPrefixedAsync(PubsubRpcCodec.MaxRpcSize, stream.Protocol,
                    cancellationToken).ConfigureAwait(false);
                if (frame is null)
                    break;
                DecodedRpc rpc = PubsubRpcCodec.Decode(frame, options.MaxSubscriptionsPerPeer, options.MaxControlBytes);
                if (!await handle(rpc, cancellationToken).ConfigureAwait(false))
                {
                    stream.Reset();
                    return;
                }
            }
            await stream.CompleteOutputAsync().ConfigureAwait(false);
        }
        catch (IOException e)
        {
            // Reset by the peer, replaced by its newer stream, or the connection went: nothing to report higher.
            Log.InboundEnded(_logger, _peer, e.Message);
            stream.Reset();
        }
    }
}
