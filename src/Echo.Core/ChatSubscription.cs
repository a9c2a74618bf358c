using System.Threading.Channels;
using Echo.Core.Events;

namespace Echo.Core;

/// <summary>One view's feed of <see cref="ChatEvent"/>s. Dispose it to stop receiving.</summary>
public sealed class ChatSubscription : IDisposable
{
    private readonly Channel<ChatEvent> _channel;
    private readonly Action<ChatSubscription> _unsubscribe;

    internal ChatSubscription(int capacity, Action<ChatSubscription> unsubscribe)
    {
        _channel = Channel.CreateBounded<ChatEvent>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        _unsubscribe = unsubscribe;
    }

    /// <summary>The events, in the order the chat produced them.</summary>
    public ChannelReader<ChatEvent> Events => _channel.Reader;

    internal void Post(ChatEvent chatEvent) => _channel.Writer.TryWrite(chatEvent);

    internal void Complete() => _channel.Writer.TryComplete();

    /// <inheritdoc />
    public void Dispose()
    {
        _unsubscribe(this);
        Complete();
    }
}
