using System.Threading.Channels;

namespace Echo.Net.Pubsub;

/// <summary>
/// A subscription to one topic: messages arrive on <see cref="Messages"/> (bounded; when the reader
/// falls behind by the router's SubscriptionCapacity, new messages are dropped for it and counted in
/// <see cref="Dropped"/>). Disposing unsubscribes; the last subscription of a topic leaves its mesh.
/// </summary>
public sealed class PubsubSubscription : IAsyncDisposable
{
    private readonly PubsubRouter _router;
    private readonly Channel<PubsubMessage> _channel;
    private long _dropped;
    private int _disposed;

    internal PubsubSubscription(PubsubRouter router, string topic, int capacity)
    {
        _router = router;
        Topic = topic;
        _channel = Channel.CreateBounded<PubsubMessage>(new BoundedChannelOptions(capacity)
        {
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public string Topic { get; }

    /// <summary>Verified, validated messages of the topic, each once. Completes when the subscription ends.</summary>
    public ChannelReader<PubsubMessage> Messages => _channel.Reader;

    /// <summary>Messages lost because <see cref="Messages"/> was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    internal bool TryDeliver(PubsubMessage message)
    {
        if (_channel.Writer.TryWrite(message))
            return true;
        Interlocked.Increment(ref _dropped);
        return false;
    }

    internal void Complete() => _channel.Writer.TryComplete();

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _router.Unsubscribe(this);
            Complete();
        }
        return ValueTask.CompletedTask;
    }
}
