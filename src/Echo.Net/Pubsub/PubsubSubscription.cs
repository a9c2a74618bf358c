using System.Threading.Channels;

namespace Echo.Net.Pubsub;

/// <summary>
/// A subscription to one topic: messages arrive on <see cref="Messages"/>. Nothing is dropped for a
/// reader that falls behind: once the router's SubscriptionCapacity messages wait here, the router
/// stops reading the next RPC of any peer that carries this topic until the reader catches up, so a
/// flood slows its senders (their streams' flow control) instead of losing messages. Disposing
/// unsubscribes; the last subscription of a topic leaves its mesh.
/// </summary>
public sealed class PubsubSubscription : IAsyncDisposable
{
    private readonly PubsubRouter _router;
    private readonly Channel<PubsubMessage> _channel = Channel.CreateUnbounded<PubsubMessage>(new UnboundedChannelOptions
    {
        SingleWriter = false,
        SingleReader = false,
    });
    private readonly int _capacity;
    private readonly CountingReader _reader;
    private TaskCompletionSource _room = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _count;
    private int _disposed;

    internal PubsubSubscription(PubsubRouter router, string topic, int capacity)
    {
        _router = router;
        _capacity = capacity;
        _reader = new CountingReader(this);
        Topic = topic;
    }

    public string Topic { get; }

    /// <summary>Verified, validated messages of the topic, each once. Completes when the subscription ends.</summary>
    public ChannelReader<PubsubMessage> Messages => _reader;

    /// <summary>Messages waiting to be read.</summary>
    internal int Waiting => Volatile.Read(ref _count);

    /// <summary>False while the reader is a whole capacity behind (the router then reads no more RPCs carrying this topic).</summary>
    internal bool HasRoom => Volatile.Read(ref _count) < _capacity || Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Always takes the message. Only the RPC being handled can overshoot the capacity, since the
    /// router waits for room before it handles the next one (<see cref="WaitForRoomAsync"/>).
    /// </summary>
    internal void Deliver(PubsubMessage message)
    {
        if (_channel.Writer.TryWrite(message))
            Interlocked.Increment(ref _count);
    }

    /// <summary>Completes once the reader is below the capacity again, or the subscription ended.</summary>
    internal async ValueTask WaitForRoomAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            // Take the signal before testing: a read in between completes this one.
            TaskCompletionSource room = Volatile.Read(ref _room);
            if (HasRoom)
                return;
            await room.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    internal void Complete()
    {
        _channel.Writer.TryComplete();
        Interlocked.Exchange(ref _disposed, 1);
        Volatile.Read(ref _room).TrySetResult();
    }

    public ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _router.Unsubscribe(this);
            Complete();
        }
        return ValueTask.CompletedTask;
    }

    private void OnRead()
    {
        // Signal only when the count falls below the capacity: waiters test it after taking the signal.
        if (Interlocked.Decrement(ref _count) == _capacity - 1)
            Interlocked.Exchange(ref _room, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>The channel's reader, counting what is taken so that waiting writers learn of room.</summary>
    private sealed class CountingReader(PubsubSubscription owner) : ChannelReader<PubsubMessage>
    {
        public override Task Completion => owner._channel.Reader.Completion;

        public override bool CanCount => true;

        public override int Count => owner._channel.Reader.Count;

        public override bool TryRead(out PubsubMessage item)
        {
            if (!owner._channel.Reader.TryRead(out item!))
                return false;
            owner.OnRead();
            return true;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) =>
            owner._channel.Reader.WaitToReadAsync(cancellationToken);
    }
}
