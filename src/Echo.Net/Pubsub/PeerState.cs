using System.Threading.Channels;
using Echo.Net.Host;
using Echo.Net.Identity;

namespace Echo.Net.Pubsub;

/// <summary>
/// What the router knows about one pubsub peer: its streams, its topics, its outbound queue and the
/// per-heartbeat counters of the spam limits. Fields are touched under the router's lock, except
/// <see cref="QueuedBytes"/> (the writer task lowers it), <see cref="Stalled"/>, the room signal and
/// the queue itself.
/// </summary>
internal sealed class PeerState
{
    public PeerState(PeerId id, Connection connection, int maxQueueLength)
    {
        Id = id;
        Connection = connection;
        Queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(maxQueueLength)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,      // only TryWrite is used: full means "drop"
        });
    }

    public PeerId Id { get; }

    public Connection Connection { get; }

    /// <summary>We dialed the connection; the v1.1 outbound mesh quota counts these.</summary>
    public bool IsOutbound => Connection.Direction == ConnectionDirection.Outbound;

    /// <summary>The protocol negotiated on our outbound stream (what we speak to the peer).</summary>
    public string? Protocol { get; set; }

    /// <summary>The protocol of the peer's stream to us, used until our own stream is open.</summary>
    public string? InboundProtocol { get; set; }

    public string? EffectiveProtocol => Protocol ?? InboundProtocol;

    public bool IsFloodsub => EffectiveProtocol == PubsubRouter.FloodsubProtocol;

    /// <summary>meshsub 1.1+ understands PRUNE backoff and PX.</summary>
    public bool SupportsBackoff => EffectiveProtocol is PubsubRouter.MeshsubV11 or PubsubRouter.MeshsubV12;

    public bool SupportsIDontWant => EffectiveProtocol == PubsubRouter.MeshsubV12;

    public HashSet<string> Topics { get; } = new(StringComparer.Ordinal);

    public Channel<byte[]> Queue { get; }

    public long QueuedBytes;

    /// <summary>A publish waited <see cref="PubsubOptions.MaxPublishWait"/> in vain; cleared when the queue moves.</summary>
    public volatile bool Stalled;

    private readonly Lock _roomGate = new();
    private TaskCompletionSource? _room;

    /// <summary>Completes the next time the writer takes RPCs off the queue (or the peer goes).</summary>
    public Task NextRoomAsync()
    {
        lock (_roomGate)
            return (_room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
    }

    /// <summary>Wakes publishers waiting for room; called by the writer after it dequeued.</summary>
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

    public P2PStream? Outbound { get; set; }

    public P2PStream? Inbound { get; set; }

    public bool OpeningOutbound { get; set; }

    public bool Removed { get; set; }

    // Per-heartbeat spam counters (gossipsub v1.1 "Spam Protection Measures").
    public int IHaveMessages { get; set; }

    public int IHaveIdsAsked { get; set; }

    public int IDontWantIds { get; set; }

    /// <summary>IDONTWANT ids from the peer, with the heartbeat they arrived in (forgotten after 3).</summary>
    public Dictionary<MessageId, long> DontSend { get; } = [];

    // Counters for logs and tests.
    public long RpcsReceived;
    public long RpcsQueued;
    public long RpcsIgnored;
    public long MessagesSent;
    public long RpcsDropped;
    public long InvalidMessages;
    public long SubscriptionsIgnored;

    public override string ToString() => $"{Id.ToShortString()} ({EffectiveProtocol ?? "opening"})";
}
