using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using Echo.Core.Ports;

namespace Echo.Protocols;

/// <summary>
/// The queue from the network into the chat. It never drops an event to make room.
/// </summary>
/// <remarks>
/// <para>
/// What a peer sends (room messages, echo-go lines, direct messages, history) is written with
/// <see cref="WriteAsync"/>, which waits for room: at most <c>capacity</c> such events wait in all,
/// and at most <c>perSource</c> from one source (a peer, a room's subscription). A source that
/// floods therefore waits on its own slots: its stream handler or reader awaits, so its own
/// streams slow down (yamux stops granting it window, its streams queue up to the stream limit),
/// while other sources still find room. Waiters are served in order.
/// </para>
/// <para>
/// Peer events raised from the host's callbacks (connected, disconnected, echo-go support) must
/// not block the host, and are few: at most one per connection opened or closed, and each costs
/// the peer a full transport and Noise handshake, so the host's connection limits bound their
/// rate. They are written with <see cref="Post"/>, which never waits and never drops; they do not
/// count against the capacity.
/// </para>
/// </remarks>
internal sealed class NetworkEventQueue : ChannelReader<NetworkEvent>
{
    private readonly Channel<Entry> _channel = Channel.CreateUnbounded<Entry>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _room;
    private readonly int _perSource;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Source> _sources = new(StringComparer.Ordinal);
    private int _count;

    /// <param name="capacity">How many events from peers may wait in all.</param>
    /// <param name="perSource">How many of them may come from one source.</param>
    public NetworkEventQueue(int capacity, int perSource)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(perSource, 1);
        _room = new SemaphoreSlim(capacity, capacity);
        _perSource = perSource;
    }

    private sealed class Source(string key, int slots)
    {
        public string Key { get; } = key;

        public SemaphoreSlim Slots { get; } = new(slots, slots);

        /// <summary>Writers waiting or events queued; the source is forgotten at zero. Guarded by the queue's gate.</summary>
        public int Users { get; set; }
    }

    private readonly record struct Entry(NetworkEvent Event, Source? Source);

    /// <summary>How many events wait to be read (peer events included).</summary>
    public override int Count => Volatile.Read(ref _count);

    /// <inheritdoc />
    public override bool CanCount => true;

    /// <inheritdoc />
    public override Task Completion => _channel.Reader.Completion;

    /// <summary>
    /// Queues an event that came from <paramref name="source"/>, waiting while that source or the
    /// whole queue is full. After <see cref="Complete"/> the event is discarded (the network stops).
    /// </summary>
    public async ValueTask WriteAsync(string source, NetworkEvent networkEvent, CancellationToken cancellationToken)
    {
        Source slots;
        lock (_gate)
        {
            if (!_sources.TryGetValue(source, out slots!))
                _sources[source] = slots = new Source(source, _perSource);
            slots.Users++;
        }
        bool haveSlot = false, haveRoom = false, queued = false;
        try
        {
            await slots.Slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            haveSlot = true;
            await _room.WaitAsync(cancellationToken).ConfigureAwait(false);
            haveRoom = true;
            Interlocked.Increment(ref _count);
            queued = _channel.Writer.TryWrite(new Entry(networkEvent, slots));   // the reader gives the slots back
            if (!queued)
                Interlocked.Decrement(ref _count);
        }
        finally
        {
            if (!queued)
            {
                if (haveRoom)
                    _room.Release();
                if (haveSlot)
                    slots.Slots.Release();
                Forget(slots);
            }
        }
    }

    /// <summary>Queues a peer event at once (never waits, never drops; see the remarks).</summary>
    public void Post(NetworkEvent networkEvent)
    {
        Interlocked.Increment(ref _count);
        if (!_channel.Writer.TryWrite(new Entry(networkEvent, null)))
            Interlocked.Decrement(ref _count);
    }

    /// <summary>No more events: the reader sees the end once it read what is queued.</summary>
    public void Complete() => _channel.Writer.TryComplete();

    /// <inheritdoc />
    public override bool TryRead([MaybeNullWhen(false)] out NetworkEvent item)
    {
        if (_channel.Reader.TryRead(out Entry entry))
        {
            Interlocked.Decrement(ref _count);
            if (entry.Source is { } source)
                Release(source);
            item = entry.Event;
            return true;
        }
        item = null;
        return false;
    }

    /// <inheritdoc />
    public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) =>
        _channel.Reader.WaitToReadAsync(cancellationToken);

    private void Release(Source source)
    {
        _room.Release();
        source.Slots.Release();
        Forget(source);
    }

    private void Forget(Source source)
    {
        lock (_gate)
        {
            if (--source.Users == 0)
                _sources.Remove(source.Key);
        }
    }
}
