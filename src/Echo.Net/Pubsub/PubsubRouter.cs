using System.IO.Pipelines;
using System.Threading.Channels;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Pubsub;

/// <summary>
/// Gossipsub v1.1 with v1.2 IDONTWANT (https://github.com/libp2p/specs/tree/master/pubsub/gossipsub),
/// one per host: topic meshes kept between D_lo and D_hi by GRAFT/PRUNE with backoff, IHAVE/IWANT
/// gossip from a message cache, flood publishing of our own messages, StrictSign signatures and peer
/// scoring (P1, P2, P4, P7) with gossip/publish/graylist thresholds.
/// </summary>
/// <remarks>
/// <para>
/// Streams: each side opens one long-lived outbound stream to the other and only writes to it; it
/// reads only the stream the other side opened. Ours is opened when identify says the peer speaks a
/// pubsub protocol (the best one is picked) or when the peer opens one to us; its first RPC announces
/// our subscriptions. A second inbound stream from a peer replaces the first. Every write is one
/// length-prefixed RPC of at most 1 MiB.
/// </para>
/// <para>
/// Concurrency: all node-wide state is guarded by one lock, never held across an await. Each peer's
/// RPCs are decoded and their signatures verified on that peer's reader task, outside the lock.
/// What we send goes through a bounded per-peer queue drained by a writer task; past its bound RPCs to
/// that peer are dropped, so a slow peer costs bounded memory. The heartbeat runs on a
/// <see cref="TimeProvider"/> timer.
/// </para>
/// </remarks>
public sealed class PubsubRouter : IAsyncDisposable
{
    public const string MeshsubV12 = "/meshsub/1.2.0";
    public const string MeshsubV11 = "/meshsub/1.1.0";
    public const string MeshsubV10 = "/meshsub/1.0.0";
    public const string FloodsubProtocol = "/floodsub/1.0.0";

    /// <summary>The protocols we serve, best first.</summary>
    public static IReadOnlyList<string> Protocols { get; } = [MeshsubV12, MeshsubV11, MeshsubV10, FloodsubProtocol];

    /// <summary>IDONTWANT entries are kept this many heartbeats (go keeps them 3).</summary>
    private const int DontSendHeartbeats = 3;

    /// <summary>A flush takes at most this many bytes of queued RPCs.</summary>
    private const int MaxBatch = 256 * 1024;

    /// <summary>A batch under this many bytes waits a thread-pool turn for more before it is flushed.</summary>
    private const int SmallBatch = 4096;

    /// <summary>At most this many thread-pool turns are spent waiting for a small batch to grow.</summary>
    private const int MaxBatchTurns = 4;

    /// <summary>PX candidates remembered (we record them; dialing them is left to the application).</summary>
    private const int MaxPxCandidates = 64;

    private readonly Libp2pHost _host;
    private readonly PubsubOptions _options;
    private readonly PeerScoreOptions _scoreOptions;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Random _random;
    private readonly Dictionary<PeerId, PeerState> _peers = [];
    private readonly Dictionary<string, HashSet<PeerId>> _topics = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<PubsubSubscription>> _subscriptions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Func<PubsubMessage, ValidationResult>[]> _validators = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<PeerId>> _mesh = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<PeerId>> _fanout = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _fanoutPublished = new(StringComparer.Ordinal);
    private readonly Dictionary<(PeerId Peer, string Topic), DateTimeOffset> _backoff = [];
    private readonly Dictionary<MessageId, Dictionary<PeerId, DateTimeOffset>> _promises = [];
    private readonly List<PeerId> _pxCandidates = [];
    private readonly MessageCache _mcache;
    private readonly TimeCache<MessageId> _seen;       // by from || seqno, whatever the id function
    private readonly TimeCache<MessageId> _seenIds;    // by message id, for IHAVE
    private readonly PeerScore _score;
    private readonly AuthorCache _authors = new();
    private readonly HashSet<Task> _background = [];
    private readonly CancellationTokenSource _stopping = new();
    private ITimer? _heartbeatTimer;
    private long _seqno;
    private long _heartbeats;
    private bool _started;
    private bool _disposed;

    public PubsubRouter(Libp2pHost host, PubsubOptions options, ILoggerFactory loggers, TimeProvider? time = null)
        : this(host, options, loggers, time, null)
    {
    }

    internal PubsubRouter(Libp2pHost host, PubsubOptions options, ILoggerFactory loggers, TimeProvider? time, Random? random)
    {
        options.Validate();
        _host = host;
        _options = options;
        _scoreOptions = options.Score;
        _logger = loggers.CreateLogger<PubsubRouter>();
        _time = time ?? TimeProvider.System;
        _random = random ?? new Random();
        _mcache = new MessageCache(options.HistoryLength, options.HistoryGossip);
        _seen = new TimeCache<MessageId>(options.SeenTtl, options.MaxSeenEntries, _time);
        _seenIds = new TimeCache<MessageId>(options.SeenTtl, options.MaxSeenEntries, _time);
        _score = new PeerScore(options.Score, _time);
        // Seeded from the clock in nanoseconds like go and js, so a restarted node keeps increasing.
        _seqno = _time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;
    }

    public PeerId PeerId => _host.PeerId;

    internal PubsubOptions Options => _options;

    internal RouterCounters Counters { get; } = new();

    /// <summary>Registers the pubsub protocols (identify then announces them) and starts the heartbeat.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_started)
                throw new InvalidOperationException("the router is already started");
            _started = true;
        }
        _host.PeerIdentified += OnPeerIdentified;
        _host.PeerDisconnected += OnPeerDisconnected;
        foreach (string protocol in Protocols)
            _host.SetStreamHandler(protocol, HandleInboundStreamAsync);
        _heartbeatTimer = _time.CreateTimer(_ => Heartbeat(), null, _options.HeartbeatInitialDelay, _options.HeartbeatInterval);
        // Peers identified before we started.
        foreach (Connection connection in _host.Connections)
        {
            if (_host.PeerStore.Get(connection.RemotePeer) is { } info)
                OnPeerIdentified(connection, info);
        }
        Log.Started(_logger, _host.PeerId);
        return Task.CompletedTask;
    }

    // ------------------------------------------------------------------------------------------
    // Public API

    /// <summary>Subscribes to <paramref name="topic"/>; the first subscription of a topic joins its mesh.</summary>
    public PubsubSubscription Subscribe(string topic)
    {
        CheckTopic(topic);
        PubsubSubscription subscription = new(this, topic, _options.SubscriptionCapacity);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_subscriptions.TryGetValue(topic, out List<PubsubSubscription>? list))
            {
                list.Add(subscription);
                return subscription;
            }
            _subscriptions[topic] = [subscription];
            Join(topic);
        }
        Log.Subscribed(_logger, topic);
        return subscription;
    }

    internal void Unsubscribe(PubsubSubscription subscription)
    {
        lock (_gate)
        {
            if (!_subscriptions.TryGetValue(subscription.Topic, out List<PubsubSubscription>? list) || !list.Remove(subscription))
                return;
            if (list.Count > 0)
                return;
            _subscriptions.Remove(subscription.Topic);
            if (!_disposed)
                Leave(subscription.Topic);
        }
        Log.Unsubscribed(_logger, subscription.Topic);
    }

    /// <summary>
    /// Adds a validator for <paramref name="topic"/>; a message is delivered and forwarded only when
    /// every validator accepts it. Validators run on the peer's reader task and must be quick.
    /// </summary>
    public void AddValidator(string topic, Func<PubsubMessage, ValidationResult> validator)
    {
        CheckTopic(topic);
        ArgumentNullException.ThrowIfNull(validator);
        lock (_gate)
            _validators[topic] = [.. _validators.GetValueOrDefault(topic) ?? [], validator];
    }

    /// <summary>
    /// Signs and sends a message: to every topic peer above the publish threshold (flood publish), else
    /// to the mesh or the fanout. Returns the message as sent.
    /// </summary>
    /// <exception cref="ArgumentException">The message would not fit in one RPC.</exception>
    /// <exception cref="InvalidOperationException">A validator of the topic refused it.</exception>
    /// <remarks>
    /// When a target's outbound queue is full the call waits for room, at most
    /// <see cref="PubsubOptions.MaxPublishWait"/> per call, then drops the message for that peer: a fast
    /// publisher slows to what its peers take instead of losing messages, and a stuck peer costs at
    /// most one wait. Cancelling <paramref name="cancellationToken"/> ends the wait the same way.
    /// </remarks>
    public async Task<PubsubMessage> PublishAsync(string topic, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        CheckTopic(topic);
        cancellationToken.ThrowIfCancellationRequested();
        // Room for from, seqno, topic, signature, key and the framing around them.
        int limit = PubsubRpcCodec.MaxRpcSize - 512 - topic.Length * 3;
        if (data.Length > limit)
            throw new ArgumentException($"{data.Length} bytes is more than one pubsub message carries ({limit})", nameof(data));
        ObjectDisposedException.ThrowIf(_disposed, this);
        ulong seqno = (ulong)Interlocked.Increment(ref _seqno);
        PubsubMessage message = PubsubMessage.Sign(_host.IdentityKey, topic, data, seqno, _options.IncludeKey);
        byte[] idBytes = _options.MessageIdFunction(message);
        message.Id = idBytes;
        ValidationResult verdict = RunValidators(message);
        if (verdict != ValidationResult.Accept)
            throw new InvalidOperationException($"a validator of \"{topic}\" returned {verdict} for our own message");
        byte[] rpc = PubsubRpcCodec.EncodePublish(message.Encoded);
        int recipients = 0;
        List<PeerState>? full = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            MessageId id = new(idBytes);
            Span<byte> seqnoBytes = stackalloc byte[PubsubMessage.SeqnoLength];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(seqnoBytes, seqno);
            _seen.Add(AuthorKey(message.From.Bytes, seqnoBytes));
            _seenIds.Add(id);
            _mcache.Put(id, message);
            foreach (PeerState peer in PublishTargets(topic))
            {
                if (TrySend(peer, rpc, messages: 1))
                    recipients++;
                else if (!peer.Removed && !peer.Stalled && _options.MaxPublishWait > TimeSpan.Zero)
                    (full ??= []).Add(peer);
                else
                    Dropped(peer);
            }
            if (_options.DeliverOwnMessages)
                Deliver(message);
        }
        if (full is not null)
            recipients += await SendWhenRoomAsync(full, rpc, cancellationToken).ConfigureAwait(false);
        Log.Published(_logger, topic, seqno, recipients);
        return message;
    }

    /// <summary>Queues <paramref name="rpc"/> to each peer as room appears, within one MaxPublishWait; returns how many took it.</summary>
    private async Task<int> SendWhenRoomAsync(List<PeerState> peers, byte[] rpc, CancellationToken cancellationToken)
    {
        using CancellationTokenSource deadline = new(_options.MaxPublishWait, _time);
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token, deadline.Token);
        int sent = 0;
        foreach (PeerState peer in peers)
        {
            while (true)
            {
                // Take the signal before trying, so that room made in between is not missed.
                Task room = peer.NextRoomAsync();
                lock (_gate)
                {
                    if (peer.Removed || _disposed)
                        break;
                    if (TrySend(peer, rpc, messages: 1))
                    {
                        sent++;
                        break;
                    }
                    if (bound.IsCancellationRequested)
                    {
                        if (!cancellationToken.IsCancellationRequested)
                        {
                            peer.Stalled = true;
                            Counters.PublishWaitsExpired++;
                        }
                        Dropped(peer);
                        break;
                    }
                }
                try
                {
                    await room.WaitAsync(bound.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // Out of time (or cancelled): the next turn drops the message for this peer.
                }
            }
        }
        return sent;
    }

    /// <summary>
    /// Counts a misbehaviour of <paramref name="peer"/> seen outside pubsub (e.g. a forged message it
    /// relayed another way) in its score, as a behaviour penalty (P7). Only a peer the router knows
    /// (one with a pubsub stream) has a score to lower.
    /// </summary>
    public void Penalize(PeerId peer)
    {
        lock (_gate)
            _score.AddPenalty(peer, 1);
    }

    /// <summary>The peers in our mesh for <paramref name="topic"/>.</summary>
    public IReadOnlyCollection<PeerId> MeshPeers(string topic)
    {
        lock (_gate)
            return _mesh.TryGetValue(topic, out HashSet<PeerId>? mesh) ? [.. mesh] : [];
    }

    /// <summary>The connected pubsub peers subscribed to <paramref name="topic"/>.</summary>
    public IReadOnlyCollection<PeerId> TopicPeers(string topic)
    {
        lock (_gate)
            return _topics.TryGetValue(topic, out HashSet<PeerId>? peers) ? [.. peers] : [];
    }

    /// <summary>The connected peers that speak a pubsub protocol with us.</summary>
    public IReadOnlyCollection<PeerId> Peers
    {
        get
        {
            lock (_gate)
                return [.. _peers.Keys];
        }
    }

    // ------------------------------------------------------------------------------------------
    // Internal views for tests and diagnostics

    internal double Score(PeerId peer)
    {
        lock (_gate)
            return _score.Score(peer);
    }

    internal double InvalidDeliveries(PeerId peer, string topic)
    {
        lock (_gate)
            return _score.InvalidDeliveries(peer, topic);
    }

    internal double BehaviourPenalty(PeerId peer)
    {
        lock (_gate)
            return _score.BehaviourPenalty(peer);
    }

    internal PeerSnapshot? GetPeer(PeerId peer)
    {
        lock (_gate)
        {
            if (!_peers.TryGetValue(peer, out PeerState? s))
                return null;
            return new PeerSnapshot(s.EffectiveProtocol, s.Outbound is not null, s.Topics.Count, Interlocked.Read(ref s.RpcsReceived),
                Interlocked.Read(ref s.RpcsIgnored), Interlocked.Read(ref s.RpcsQueued), Interlocked.Read(ref s.MessagesSent),
                Interlocked.Read(ref s.RpcsDropped), Interlocked.Read(ref s.QueuedBytes), Interlocked.Read(ref s.InvalidMessages),
                Interlocked.Read(ref s.SubscriptionsIgnored), s.DontSend.Count);
        }
    }

    internal bool IsBackedOff(PeerId peer, string topic)
    {
        lock (_gate)
            return _backoff.TryGetValue((peer, topic), out DateTimeOffset until) && until > _time.GetUtcNow();
    }

    internal DateTimeOffset? BackoffUntil(PeerId peer, string topic)
    {
        lock (_gate)
            return _backoff.TryGetValue((peer, topic), out DateTimeOffset until) ? until : null;
    }

    internal IReadOnlyCollection<PeerId> FanoutPeers(string topic)
    {
        lock (_gate)
            return _fanout.TryGetValue(topic, out HashSet<PeerId>? fanout) ? [.. fanout] : [];
    }

    internal IReadOnlyList<PeerId> PxCandidates
    {
        get
        {
            lock (_gate)
                return [.. _pxCandidates];
        }
    }

    internal int PromiseCount
    {
        get
        {
            lock (_gate)
                return _promises.Values.Sum(p => p.Count);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Peers and streams

    private void OnPeerIdentified(Connection connection, IdentifyInfo info)
    {
        string[] supported = [.. Protocols.Where(info.Supports)];
        if (supported.Length == 0)
            return;
        lock (_gate)
        {
            if (_disposed || connection.IsClosed)
                return;
            PeerState peer = GetOrAddPeer(connection);
            EnsureOutbound(peer, supported);
        }
    }

    private void OnPeerDisconnected(Connection connection)
    {
        lock (_gate)
        {
            if (_peers.TryGetValue(connection.RemotePeer, out PeerState? peer))
                RemovePeer(peer, "disconnected");
        }
    }

    /// <summary>The state of the peer on <paramref name="connection"/>, replacing one left from a closed connection.</summary>
    private PeerState GetOrAddPeer(Connection connection)
    {
        PeerId id = connection.RemotePeer;
        if (_peers.TryGetValue(id, out PeerState? existing))
        {
            if (existing.Connection == connection || !existing.Connection.IsClosed)
                return existing;
            RemovePeer(existing, "connection replaced");
        }
        PeerState peer = new(id, connection, _options.MaxOutboundQueueLength);
        _peers[id] = peer;
        _score.AddPeer(id);
        if (_subscriptions.Count > 0)
        {
            Pb.RPC hello = new();
            foreach (string topic in _subscriptions.Keys)
                hello.Subscriptions.Add(new Pb.RPC.Types.SubOpts { Subscribe = true, Topicid = topic });
            Send(peer, hello.ToByteArray(), messages: 0);
        }
        Log.PeerAdded(_logger, id, connection.Direction);
        return peer;
    }

    private void RemovePeer(PeerState peer, string reason)
    {
        if (peer.Removed)
            return;
        peer.Removed = true;
        if (_peers.TryGetValue(peer.Id, out PeerState? current) && current == peer)
            _peers.Remove(peer.Id);
        foreach (string topic in peer.Topics)
            RemoveTopicPeer(topic, peer.Id);
        foreach (HashSet<PeerId> mesh in _mesh.Values)
            mesh.Remove(peer.Id);
        foreach (HashSet<PeerId> fanout in _fanout.Values)
            fanout.Remove(peer.Id);
        _score.RemovePeer(peer.Id);
        peer.Queue.Writer.TryComplete();
        peer.SignalRoom();
        peer.Inbound?.Reset();
        Log.PeerRemoved(_logger, peer.Id, reason);
    }

    private void RemoveTopicPeer(string topic, PeerId peer)
    {
        if (_topics.TryGetValue(topic, out HashSet<PeerId>? peers) && peers.Remove(peer) && peers.Count == 0)
            _topics.Remove(topic);
    }

    private void EnsureOutbound(PeerState peer, IReadOnlyList<string> protocols)
    {
        if (peer.Outbound is not null || peer.OpeningOutbound || peer.Removed)
            return;
        peer.OpeningOutbound = true;
        // Not awaited here: we hold the lock. Task.Run keeps the opening off this thread entirely.
        Track(Task.Run(() => OpenOutboundAsync(peer, protocols)));
    }

    private async Task OpenOutboundAsync(PeerState peer, IReadOnlyList<string> protocols)
    {
        P2PStream stream;
        try
        {
            stream = await peer.Connection.OpenStreamAsync(protocols, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            if (e is not OperationCanceledException)
                Log.OutboundFailed(_logger, peer.Id, e.Message);
            lock (_gate)
            {
                peer.OpeningOutbound = false;
                // Without a stream to it the peer is no use; it may come back with a new inbound stream.
                if (!_disposed)
                    RemovePeer(peer, "no outbound stream");
            }
            return;
        }
        lock (_gate)
        {
            peer.OpeningOutbound = false;
            if (peer.Removed || _disposed)
            {
                stream.Reset();
                return;
            }
            peer.Outbound = stream;
            peer.Protocol = stream.Protocol;
            Track(WriteLoopAsync(peer, stream));
        }
        Log.OutboundOpened(_logger, peer.Id, stream.Protocol);
    }

    private async Task WriteLoopAsync(PeerState peer, P2PStream stream)
    {
        await Task.Yield();                  // leave the caller's lock
        ChannelReader<byte[]> queue = peer.Queue.Reader;
        bool failed = false;
        try
        {
            while (await queue.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
            {
                // Several queued RPCs share one flush (and so one Noise frame, yamux frame and syscall when small).
                int batched = Drain(peer, queue, stream, 0);
                for (int turn = 0; turn < MaxBatchTurns && batched < SmallBatch; turn++)
                {
                    // A publisher writing back to back is usually about to queue the next RPC: a turn of the
                    // thread pool lets it, and they go out together instead of paying a flush each. A turn
                    // that brought nothing ends the wait.
                    await Task.Yield();
                    int before = batched;
                    batched = Drain(peer, queue, stream, batched);
                    if (batched == before)
                        break;
                }
                peer.SignalRoom();
                FlushResult flushed = await stream.Output.FlushAsync(_stopping.Token).ConfigureAwait(false);
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
            Log.WriteFailed(_logger, peer.Id, e.Message);
        }
        if (failed)
        {
            stream.Reset();
            lock (_gate)
            {
                if (!_disposed && peer.Outbound == stream)
                    RemovePeer(peer, "outbound stream failed");
            }
        }
    }

    /// <summary>Writes queued RPCs to the stream's buffer up to <see cref="MaxBatch"/> bytes; returns the bytes batched so far.</summary>
    private static int Drain(PeerState peer, ChannelReader<byte[]> queue, P2PStream stream, int batched)
    {
        while (batched < MaxBatch && queue.TryRead(out byte[]? rpc))
        {
            LengthPrefixed.Write(stream.Output, rpc);
            Interlocked.Add(ref peer.QueuedBytes, -rpc.Length);
            batched += rpc.Length;
        }
        return batched;
    }

    private async Task HandleInboundStreamAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        PeerState peer;
        P2PStream? replaced;
        lock (_gate)
        {
            if (_disposed || stream.Connection.IsClosed)
            {
                stream.Reset();
                return;
            }
            peer = GetOrAddPeer(stream.Connection);
            replaced = peer.Inbound;
            peer.Inbound = stream;
            peer.InboundProtocol = stream.Protocol;
            // The peer speaks what it opened; answer with the same family (best first).
            EnsureOutbound(peer, stream.Protocol == FloodsubProtocol ? [FloodsubProtocol] : Protocols);
        }
        if (replaced is not null)
        {
            Log.InboundReplaced(_logger, peer.Id);
            replaced.Reset();
        }
        using CancellationTokenSource lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        try
        {
            while (true)
            {
                byte[]? frame = await stream.Input.ReadLengthPrefixedAsync(PubsubRpcCodec.MaxRpcSize, stream.Protocol,
                    lifetime.Token).ConfigureAwait(false);
                if (frame is null)
                    break;
                DecodedRpc rpc = PubsubRpcCodec.Decode(frame, _options.MaxSubscriptionsPerPeer, _options.MaxControlBytes);
                if (rpc.Messages.Count > 0)
                    await WaitForSubscribersAsync(rpc, lifetime.Token).ConfigureAwait(false);
                if (!HandleRpc(peer, rpc))
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
            Log.InboundEnded(_logger, peer.Id, e.Message);
            stream.Reset();
        }
        finally
        {
            lock (_gate)
            {
                if (peer.Inbound == stream)
                    peer.Inbound = null;
            }
        }
    }

    /// <summary>
    /// Backpressure instead of loss: while a local subscription of a topic this RPC carries is a whole
    /// capacity behind, this peer's reader waits (and its stream's flow control slows the peer), so
    /// a flood costs its senders, not the messages.
    /// </summary>
    private async ValueTask WaitForSubscribersAsync(DecodedRpc rpc, CancellationToken cancellationToken)
    {
        string? last = null;
        foreach (Pb.Message message in rpc.Messages)
        {
            if (message.Topic == last)
                continue;
            last = message.Topic;
            while (FullSubscription(last) is { } full)
                await full.WaitForRoomAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private PubsubSubscription? FullSubscription(string topic)
    {
        lock (_gate)
        {
            if (_subscriptions.TryGetValue(topic, out List<PubsubSubscription>? subscriptions))
            {
                foreach (PubsubSubscription subscription in subscriptions)
                {
                    if (!subscription.HasRoom)
                        return subscription;
                }
            }
            return null;
        }
    }

    // ------------------------------------------------------------------------------------------
    // Inbound RPCs

    /// <summary>Applies one RPC from <paramref name="peer"/>; false when the peer is gone and reading should stop.</summary>
    internal bool HandleRpc(PeerState peer, DecodedRpc rpc)
    {
        List<(Pb.Message Pb, MessageId Author)>? candidates = null;
        lock (_gate)
        {
            if (peer.Removed)
                return false;
            if (_score.Score(peer.Id) < _scoreOptions.GraylistThreshold)
            {
                Interlocked.Increment(ref peer.RpcsIgnored);
                Interlocked.Increment(ref peer.RpcsReceived);
                Log.Graylisted(_logger, peer.Id);
                return true;
            }
            if (rpc.SubscriptionsDropped > 0)
            {
                Interlocked.Add(ref peer.SubscriptionsIgnored, rpc.SubscriptionsDropped);
                Log.SubscriptionsOverLimit(_logger, peer.Id, rpc.SubscriptionsDropped);
            }
            foreach (Pb.RPC.Types.SubOpts sub in rpc.Subscriptions)
                HandleSubscription(peer, sub);
            foreach (Pb.Message pb in rpc.Messages)
            {
                // go ignores messages for topics it is not subscribed to, without judging them.
                if (!pb.HasTopic || !_subscriptions.ContainsKey(pb.Topic))
                    continue;
                MessageId author = default;
                if (pb.HasFrom && pb.HasSeqno && pb.Seqno.Length == PubsubMessage.SeqnoLength)
                {
                    author = AuthorKey(pb.From.Span, pb.Seqno.Span);
                    if (_seen.Contains(author))
                    {
                        Counters.Duplicates++;
                        continue;
                    }
                }
                (candidates ??= []).Add((pb, author));
            }
        }
        List<CheckedMessage>? checkedMessages = null;
        if (candidates is not null)
        {
            checkedMessages = new(candidates.Count);
            foreach ((Pb.Message pb, MessageId author) in candidates)
            {
                // Verification outside the lock: it is the expensive part and depends on nothing shared.
                SignatureStatus status = PubsubMessage.TryValidate(pb, out PubsubMessage? message, _authors);
                ValidationResult verdict = ValidationResult.Reject;
                MessageId id = default;
                if (message is not null)
                {
                    message.ReceivedFrom = peer.Id;
                    if (message.From == _host.PeerId)
                        verdict = ValidationResult.Ignore;    // our own message coming back after the seen cache forgot it
                    else
                    {
                        byte[] idBytes = _options.MessageIdFunction(message);
                        message.Id = idBytes;
                        id = new MessageId(idBytes);
                        verdict = RunValidators(message);
                    }
                }
                checkedMessages.Add(new CheckedMessage(pb, author, status, message, id, verdict));
            }
        }
        lock (_gate)
        {
            if (peer.Removed)
                return false;
            if (checkedMessages is not null)
            {
                foreach (CheckedMessage message in checkedMessages)
                    AcceptMessage(peer, message);
            }
            if (rpc.ControlDropped)
                Log.ControlOverLimit(_logger, peer.Id, rpc.ControlBytes, _options.MaxControlBytes);
            if (rpc.Control is not null && !peer.IsFloodsub)
                HandleControl(peer, rpc.Control);
            Interlocked.Increment(ref peer.RpcsReceived);
        }
        return true;
    }

    private void HandleSubscription(PeerState peer, Pb.RPC.Types.SubOpts sub)
    {
        if (!sub.HasTopicid || sub.Topicid.Length is 0 or > PubsubMessage.MaxTopicLength)
            return;
        string topic = sub.Topicid;
        if (sub.Subscribe)
        {
            if (peer.Topics.Contains(topic))
                return;
            if (peer.Topics.Count >= _options.MaxSubscriptionsPerPeer)
            {
                Interlocked.Increment(ref peer.SubscriptionsIgnored);
                return;
            }
            peer.Topics.Add(topic);
            if (!_topics.TryGetValue(topic, out HashSet<PeerId>? peers))
                _topics[topic] = peers = [];
            peers.Add(peer.Id);
            OfferRecent(peer, topic);
        }
        else if (peer.Topics.Remove(topic))
        {
            RemoveTopicPeer(topic, peer.Id);
            if (_mesh.TryGetValue(topic, out HashSet<PeerId>? mesh) && mesh.Remove(peer.Id))
                _score.Prune(peer.Id, topic);
            if (_fanout.TryGetValue(topic, out HashSet<PeerId>? fanout))
                fanout.Remove(peer.Id);
        }
    }

    private void AcceptMessage(PeerState peer, CheckedMessage candidate)
    {
        (Pb.Message pb, MessageId author, SignatureStatus status, PubsubMessage? message, MessageId id, ValidationResult verdict) = candidate;
        string topic = pb.Topic;
        if (message is null)
        {
            // Forged, unsigned or malformed: never delivered nor forwarded, and it costs the sender (P4).
            // It is not marked seen, so a forgery cannot shadow the real message with that seqno.
            Interlocked.Increment(ref peer.InvalidMessages);
            Counters.InvalidMessages++;
            _score.InvalidDelivery(peer.Id, topic);
            Log.InvalidMessage(_logger, peer.Id, topic, PubsubMessage.Describe(status));
            return;
        }
        if (!_seen.Add(author))
        {
            Counters.Duplicates++;                        // a copy verified in parallel on another reader
            return;
        }
        if (id.IsEmpty)
            return;                                       // our own message: seen now, nothing more
        _seenIds.Add(id);
        _promises.Remove(id);
        switch (verdict)
        {
            case ValidationResult.Reject:
                Interlocked.Increment(ref peer.InvalidMessages);
                Counters.InvalidMessages++;
                _score.InvalidDelivery(peer.Id, topic);
                Log.MessageRejected(_logger, peer.Id, topic);
                return;
            case ValidationResult.Ignore:
                return;
        }
        _score.FirstDelivery(peer.Id, topic);
        _mcache.Put(id, message);
        if (message.Data.Length >= _options.IDontWantMinDataSize)
            SendIDontWant(topic, id, peer.Id);
        Deliver(message);
        Forward(message, id, peer.Id);
    }

    private void Deliver(PubsubMessage message)
    {
        if (!_subscriptions.TryGetValue(message.Topic, out List<PubsubSubscription>? subscriptions))
            return;
        Counters.Delivered++;
        foreach (PubsubSubscription subscription in subscriptions)
            subscription.Deliver(message);
    }

    private void Forward(PubsubMessage message, MessageId id, PeerId source)
    {
        byte[]? rpc = null;
        foreach (PeerState peer in ForwardTargets(message.Topic))
        {
            if (peer.Id == source || peer.Id == message.From || peer.DontSend.ContainsKey(id))
                continue;
            rpc ??= PubsubRpcCodec.EncodePublish(message.Encoded);
            if (Send(peer, rpc, messages: 1))
                Counters.Forwarded++;
        }
    }

    private IEnumerable<PeerState> ForwardTargets(string topic)
    {
        if (_mesh.TryGetValue(topic, out HashSet<PeerId>? mesh))
        {
            foreach (PeerId id in mesh)
            {
                if (_peers.TryGetValue(id, out PeerState? peer))
                    yield return peer;
            }
        }
        // Floodsub peers get every message of their topics (gossipsub-v1.0.md "Message Processing").
        if (_topics.TryGetValue(topic, out HashSet<PeerId>? subscribers))
        {
            foreach (PeerId id in subscribers)
            {
                if (_peers.TryGetValue(id, out PeerState? peer) && peer.IsFloodsub)
                    yield return peer;
            }
        }
    }

    private List<PeerState> PublishTargets(string topic)
    {
        List<PeerState> targets = [];
        HashSet<PeerId> subscribers = _topics.GetValueOrDefault(topic) ?? [];
        if (_options.FloodPublish)
        {
            foreach (PeerId id in subscribers)
            {
                if (_peers.TryGetValue(id, out PeerState? peer) && (peer.IsFloodsub || _score.Score(id) >= _scoreOptions.PublishThreshold))
                    targets.Add(peer);
            }
            return targets;
        }
        HashSet<PeerId> chosen = [];
        if (_mesh.TryGetValue(topic, out HashSet<PeerId>? mesh))
            chosen.UnionWith(mesh);
        else
        {
            if (!_fanout.TryGetValue(topic, out HashSet<PeerId>? fanout) || fanout.Count == 0)
            {
                fanout = [.. Sample(subscribers.Where(p => IsMeshCandidate(p, _scoreOptions.PublishThreshold)), _options.D)];
                _fanout[topic] = fanout;
            }
            _fanoutPublished[topic] = _time.GetUtcNow();
            chosen.UnionWith(fanout);
        }
        foreach (PeerId id in subscribers)
        {
            if (_peers.TryGetValue(id, out PeerState? peer) && peer.IsFloodsub)
                chosen.Add(id);
        }
        foreach (PeerId id in chosen)
        {
            if (_peers.TryGetValue(id, out PeerState? peer))
                targets.Add(peer);
        }
        return targets;
    }

    private void SendIDontWant(string topic, MessageId id, PeerId source)
    {
        if (!_mesh.TryGetValue(topic, out HashSet<PeerId>? mesh))
            return;
        byte[]? rpc = null;
        foreach (PeerId peerId in mesh)
        {
            if (peerId == source || !_peers.TryGetValue(peerId, out PeerState? peer) || !peer.SupportsIDontWant)
                continue;
            rpc ??= ControlRpc(new Pb.ControlMessage { Idontwant = { new Pb.ControlIDontWant { MessageIDs = { ByteString.CopyFrom(id.Span) } } } });
            Send(peer, rpc, messages: 0);
        }
    }

    private ValidationResult RunValidators(PubsubMessage message)
    {
        Func<PubsubMessage, ValidationResult>[]? validators;
        lock (_gate)
            validators = _validators.GetValueOrDefault(message.Topic);
        if (validators is null)
            return ValidationResult.Accept;
        ValidationResult result = ValidationResult.Accept;
        foreach (Func<PubsubMessage, ValidationResult> validator in validators)
        {
            ValidationResult verdict;
            try
            {
                verdict = validator(message);
            }
            catch (Exception e)
            {
                Log.ValidatorFailed(_logger, message.Topic, e);
                verdict = ValidationResult.Ignore;
            }
            if (verdict == ValidationResult.Reject)
                return ValidationResult.Reject;
            if (verdict == ValidationResult.Ignore)
                result = ValidationResult.Ignore;
        }
        return result;
    }

    // ------------------------------------------------------------------------------------------
    // Control messages

    private void HandleControl(PeerState peer, Pb.ControlMessage control)
    {
        double score = _score.Score(peer.Id);
        List<ByteString>? iwant = score >= _scoreOptions.GossipThreshold ? HandleIHave(peer, control) : null;
        List<byte[]>? answers = score >= _scoreOptions.GossipThreshold ? HandleIWant(peer, control) : null;
        List<Pb.ControlPrune>? prunes = HandleGraft(peer, control);
        HandlePrune(peer, control, score);
        HandleIDontWant(peer, control);

        if (iwant is { Count: > 0 })
            Send(peer, ControlRpc(new Pb.ControlMessage { Iwant = { new Pb.ControlIWant { MessageIDs = { iwant } } } }), messages: 0);
        if (prunes is { Count: > 0 })
            Send(peer, ControlRpc(new Pb.ControlMessage { Prune = { prunes } }), messages: 0);
        if (answers is { Count: > 0 })
        {
            // Split the answers so that no RPC exceeds the frame limit.
            List<byte[]> batch = [];
            int size = 0;
            foreach (byte[] encoded in answers)
            {
                if (batch.Count > 0 && size + encoded.Length + 16 > PubsubRpcCodec.MaxRpcSize)
                {
                    Send(peer, PubsubRpcCodec.EncodePublish(batch), batch.Count);
                    batch = [];
                    size = 0;
                }
                batch.Add(encoded);
                size += encoded.Length + 16;
            }
            Send(peer, PubsubRpcCodec.EncodePublish(batch), batch.Count);
            Counters.IWantAnswered += answers.Count;
        }
    }

    /// <summary>IHAVE: ask (IWANT) for unseen ids of mesh topics, within the per-heartbeat limits.</summary>
    private List<ByteString>? HandleIHave(PeerState peer, Pb.ControlMessage control)
    {
        if (control.Ihave.Count == 0)
            return null;
        List<ByteString> wanted = [];
        HashSet<MessageId> unique = [];
        foreach (Pb.ControlIHave ihave in control.Ihave)
        {
            if (++peer.IHaveMessages > _options.MaxIHaveMessages)
            {
                Log.IHaveOverLimit(_logger, peer.Id, _options.MaxIHaveMessages);
                break;
            }
            if (peer.IHaveIdsAsked >= _options.MaxIHaveLength)
                break;
            if (!ihave.HasTopicID || !_mesh.ContainsKey(ihave.TopicID))
                continue;
            foreach (ByteString bytes in ihave.MessageIDs)
            {
                if (bytes.Length is 0 or > MessageId.MaxLength)
                    continue;
                MessageId id = new(bytes.ToByteArray());
                if (!_seenIds.Contains(id) && unique.Add(id))
                    wanted.Add(bytes);
            }
        }
        int room = _options.MaxIHaveLength - peer.IHaveIdsAsked;
        if (wanted.Count == 0 || room <= 0)
            return null;
        Shuffle(wanted);
        if (wanted.Count > room)
            wanted.RemoveRange(room, wanted.Count - room);
        peer.IHaveIdsAsked += wanted.Count;
        // Track one random id of the batch: if nobody delivers it in time, the advertiser is penalised.
        MessageId promised = new(wanted[_random.Next(wanted.Count)].ToByteArray());
        if (!_promises.TryGetValue(promised, out Dictionary<PeerId, DateTimeOffset>? waiting))
            _promises[promised] = waiting = [];
        waiting.TryAdd(peer.Id, _time.GetUtcNow() + _options.IWantFollowupTime);
        Counters.IWantSent++;
        return wanted;
    }

    /// <summary>IWANT: the cached messages asked for, each at most GossipRetransmission times per peer.</summary>
    private List<byte[]>? HandleIWant(PeerState peer, Pb.ControlMessage control)
    {
        if (control.Iwant.Count == 0)
            return null;
        List<byte[]> answers = [];
        int considered = 0;
        foreach (Pb.ControlIWant iwant in control.Iwant)
        {
            foreach (ByteString bytes in iwant.MessageIDs)
            {
                if (++considered > _options.MaxIWantIds)
                    return answers;
                if (bytes.Length is 0 or > MessageId.MaxLength)
                    continue;
                if (_mcache.GetForPeer(new MessageId(bytes.ToByteArray()), peer.Id, _options.GossipRetransmission) is { } message)
                    answers.Add(message.Encoded);
            }
        }
        return answers;
    }

    /// <summary>GRAFT: join the peer to our mesh, or answer PRUNE (backoff, negative score, full mesh).</summary>
    private List<Pb.ControlPrune>? HandleGraft(PeerState peer, Pb.ControlMessage control)
    {
        List<Pb.ControlPrune>? prunes = null;
        DateTimeOffset now = _time.GetUtcNow();
        foreach (Pb.ControlGraft graft in control.Graft)
        {
            // Unknown or unsubscribed topic: ignored, so spam GRAFTs cost no PRUNE (v1.1 spam protection).
            if (!graft.HasTopicID || !_mesh.TryGetValue(graft.TopicID, out HashSet<PeerId>? mesh))
                continue;
            string topic = graft.TopicID;
            if (mesh.Contains(peer.Id))
                continue;
            if (_backoff.TryGetValue((peer.Id, topic), out DateTimeOffset until) && until > now)
            {
                // Grafting back during the backoff costs a behaviour penalty, twice when very early.
                _score.AddPenalty(peer.Id, 1);
                if (until - _options.PruneBackoff + _options.GraftFloodThreshold > now)
                    _score.AddPenalty(peer.Id, 1);
                Log.GraftDuringBackoff(_logger, peer.Id, topic);
                AddBackoff(peer.Id, topic, _options.PruneBackoff);
                (prunes ??= []).Add(Prune(peer, topic, _options.PruneBackoff));
                continue;
            }
            if (_score.Score(peer.Id) < 0 || (mesh.Count >= _options.DHi && !peer.IsOutbound))
            {
                AddBackoff(peer.Id, topic, _options.PruneBackoff);
                (prunes ??= []).Add(Prune(peer, topic, _options.PruneBackoff));
                continue;
            }
            mesh.Add(peer.Id);
            _score.Graft(peer.Id, topic);
            Log.Grafted(_logger, peer.Id, topic, "their GRAFT");
            OfferRecent(peer, topic);
        }
        return prunes;
    }

    /// <summary>PRUNE: leave the peer's mesh, honour its backoff (saturated and capped), record PX.</summary>
    private void HandlePrune(PeerState peer, Pb.ControlMessage control, double score)
    {
        foreach (Pb.ControlPrune prune in control.Prune)
        {
            if (!prune.HasTopicID || !_mesh.TryGetValue(prune.TopicID, out HashSet<PeerId>? mesh))
                continue;
            string topic = prune.TopicID;
            if (mesh.Remove(peer.Id))
                _score.Prune(peer.Id, topic);
            TimeSpan backoff = prune.HasBackoff && prune.Backoff > 0 ? BackoffFromSeconds(prune.Backoff) : _options.PruneBackoff;
            AddBackoff(peer.Id, topic, backoff);
            if (prune.Peers.Count > 0 && score >= _scoreOptions.AcceptPxThreshold)
                RecordPx(prune);
            Log.PrunedBy(_logger, peer.Id, topic, backoff.TotalSeconds);
        }
    }

    /// <summary>Seconds from the wire as a backoff: never overflows, capped at MaxPruneBackoff.</summary>
    internal TimeSpan BackoffFromSeconds(ulong seconds) =>
        seconds >= (ulong)_options.MaxPruneBackoff.TotalSeconds ? _options.MaxPruneBackoff : TimeSpan.FromSeconds(seconds);

    private void RecordPx(Pb.ControlPrune prune)
    {
        int taken = 0;
        foreach (Pb.PeerInfo info in prune.Peers)
        {
            if (taken >= _options.MaxPxPeers)
                break;
            taken++;
            if (!info.HasPeerID || !PeerId.TryFromBytes(info.PeerID.Span, out PeerId? id) || id is null || id == _host.PeerId)
                continue;
            if (_pxCandidates.Contains(id))
                continue;
            if (_pxCandidates.Count >= MaxPxCandidates)
                _pxCandidates.RemoveAt(0);
            _pxCandidates.Add(id);
        }
    }

    private void HandleIDontWant(PeerState peer, Pb.ControlMessage control)
    {
        foreach (Pb.ControlIDontWant idontwant in control.Idontwant)
        {
            foreach (ByteString bytes in idontwant.MessageIDs)
            {
                if (peer.IDontWantIds >= _options.MaxIDontWantIds)
                    return;
                peer.IDontWantIds++;
                if (bytes.Length is 0 or > MessageId.MaxLength)
                    continue;
                peer.DontSend[new MessageId(bytes.ToByteArray())] = _heartbeats;
            }
        }
    }

    private static Pb.ControlPrune Prune(PeerState peer, string topic, TimeSpan backoff)
    {
        Pb.ControlPrune prune = new() { TopicID = topic };
        if (peer.SupportsBackoff)
            prune.Backoff = (ulong)backoff.TotalSeconds;
        return prune;
    }

    private void AddBackoff(PeerId peer, string topic, TimeSpan backoff)
    {
        DateTimeOffset until = _time.GetUtcNow() + backoff;
        if (!_backoff.TryGetValue((peer, topic), out DateTimeOffset current) || current < until)
            _backoff[(peer, topic)] = until;
    }

    // ------------------------------------------------------------------------------------------
    // Join, leave, heartbeat

    private void Join(string topic)
    {
        HashSet<PeerId> mesh = [];
        if (_fanout.Remove(topic, out HashSet<PeerId>? fanout))
        {
            _fanoutPublished.Remove(topic);
            mesh.UnionWith(fanout.Where(p => IsMeshCandidate(p, 0) && !InBackoff(p, topic)).Take(_options.D));
        }
        if (mesh.Count < _options.D && _topics.TryGetValue(topic, out HashSet<PeerId>? subscribers))
        {
            mesh.UnionWith(Sample(subscribers.Where(p => !mesh.Contains(p) && IsMeshCandidate(p, 0) && !InBackoff(p, topic)),
                _options.D - mesh.Count));
        }
        _mesh[topic] = mesh;
        byte[] announce = new Pb.RPC { Subscriptions = { new Pb.RPC.Types.SubOpts { Subscribe = true, Topicid = topic } } }.ToByteArray();
        foreach (PeerState peer in _peers.Values)
            Send(peer, announce, messages: 0);
        byte[] graft = ControlRpc(new Pb.ControlMessage { Graft = { new Pb.ControlGraft { TopicID = topic } } });
        foreach (PeerId id in mesh)
        {
            _score.Graft(id, topic);
            Send(_peers[id], graft, messages: 0);
            Log.Grafted(_logger, id, topic, "join");
        }
    }

    private void Leave(string topic)
    {
        byte[] announce = new Pb.RPC { Subscriptions = { new Pb.RPC.Types.SubOpts { Subscribe = false, Topicid = topic } } }.ToByteArray();
        foreach (PeerState peer in _peers.Values)
            Send(peer, announce, messages: 0);
        if (!_mesh.Remove(topic, out HashSet<PeerId>? mesh))
            return;
        foreach (PeerId id in mesh)
        {
            _score.Prune(id, topic);
            AddBackoff(id, topic, _options.UnsubscribeBackoff);
            if (_peers.TryGetValue(id, out PeerState? peer))
                Send(peer, ControlRpc(new Pb.ControlMessage { Prune = { Prune(peer, topic, _options.UnsubscribeBackoff) } }), messages: 0);
        }
    }

    /// <summary>One heartbeat (gossipsub-v1.0.md "Heartbeat" with the v1.1 changes); the timer calls it.</summary>
    internal void Heartbeat()
    {
        try
        {
            lock (_gate)
            {
                if (_disposed)
                    return;
                HeartbeatLocked();
            }
        }
        catch (Exception e)
        {
            Log.HeartbeatFailed(_logger, e);
        }
    }

    private void HeartbeatLocked()
    {
        long tick = ++_heartbeats;
        DateTimeOffset now = _time.GetUtcNow();
        Counters.Heartbeats++;
        foreach (PeerState peer in _peers.Values)
        {
            peer.IHaveMessages = 0;
            peer.IHaveIdsAsked = 0;
            peer.IDontWantIds = 0;
            if (peer.DontSend.Count > 0)
            {
                foreach ((MessageId id, long at) in peer.DontSend.ToArray())
                {
                    if (tick - at >= DontSendHeartbeats)
                        peer.DontSend.Remove(id);
                }
            }
        }
        ApplyBrokenPromises(now);

        Dictionary<PeerId, List<Pb.ControlGraft>> grafts = [];
        Dictionary<PeerId, List<Pb.ControlPrune>> prunes = [];
        Dictionary<PeerId, List<Pb.ControlIHave>> gossip = [];

        foreach ((string topic, HashSet<PeerId> mesh) in _mesh)
        {
            // Peers with a negative score leave every mesh.
            foreach (PeerId id in mesh.ToArray())
            {
                if (!_peers.ContainsKey(id))
                    mesh.Remove(id);
                else if (_score.Score(id) < 0)
                    PruneFromMesh(topic, mesh, id, prunes);
            }
            if (mesh.Count < _options.DLo)
            {
                foreach (PeerId id in Sample(MeshCandidates(topic, mesh), _options.D - mesh.Count))
                    GraftToMesh(topic, mesh, id, grafts);
            }
            if (mesh.Count > _options.DHi)
                ShrinkMesh(topic, mesh, prunes);
            if (mesh.Count >= _options.DLo)
            {
                int outbound = mesh.Count(id => _peers.TryGetValue(id, out PeerState? p) && p.IsOutbound);
                if (outbound < _options.DOut)
                {
                    foreach (PeerId id in Sample(MeshCandidates(topic, mesh).Where(id => _peers[id].IsOutbound), _options.DOut - outbound))
                        GraftToMesh(topic, mesh, id, grafts);
                }
            }
            if (tick % _options.OpportunisticGraftTicks == 0 && mesh.Count > 1)
                OpportunisticGraft(topic, mesh, grafts);
            EmitGossip(topic, mesh, gossip);
        }

        foreach (string topic in _fanout.Keys.ToArray())
        {
            HashSet<PeerId> fanout = _fanout[topic];
            if (_fanoutPublished.GetValueOrDefault(topic) + _options.FanoutTtl < now)
            {
                _fanout.Remove(topic);
                _fanoutPublished.Remove(topic);
                continue;
            }
            HashSet<PeerId> subscribers = _topics.GetValueOrDefault(topic) ?? [];
            fanout.RemoveWhere(id => !subscribers.Contains(id) || _score.Score(id) < _scoreOptions.PublishThreshold);
            if (fanout.Count < _options.D)
            {
                fanout.UnionWith(Sample(subscribers.Where(id => !fanout.Contains(id) && IsMeshCandidate(id, _scoreOptions.PublishThreshold)),
                    _options.D - fanout.Count));
            }
            EmitGossip(topic, fanout, gossip);
        }

        foreach (PeerId id in grafts.Keys.Union(prunes.Keys).Union(gossip.Keys))
        {
            if (!_peers.TryGetValue(id, out PeerState? peer))
                continue;
            Pb.ControlMessage control = new();
            if (grafts.TryGetValue(id, out List<Pb.ControlGraft>? g))
                control.Graft.AddRange(g);
            if (prunes.TryGetValue(id, out List<Pb.ControlPrune>? p))
                control.Prune.AddRange(p);
            if (control.Graft.Count + control.Prune.Count > 0)
                Send(peer, ControlRpc(control), messages: 0);
            // A peer grafted now got none of what we forwarded while it was subscribed but outside the
            // mesh, and gossip skips mesh peers: offer it the window, as when its subscription arrived.
            foreach (Pb.ControlGraft graft in control.Graft)
                OfferRecent(peer, graft.TopicID);
            // Each IHAVE in its own RPC keeps every control section under the receivers' size limit.
            if (gossip.TryGetValue(id, out List<Pb.ControlIHave>? ihaves))
            {
                foreach (Pb.ControlIHave ihave in ihaves)
                    Send(peer, ControlRpc(new Pb.ControlMessage { Ihave = { ihave } }), messages: 0);
            }
        }

        _mcache.Shift();
        _score.Decay();
        _seen.Sweep();
        _seenIds.Sweep();
        TimeSpan slack = _options.HeartbeatInterval;
        foreach (((PeerId, string) key, DateTimeOffset until) in _backoff.ToArray())
        {
            if (until + slack < now)
                _backoff.Remove(key);
        }
    }

    private void ApplyBrokenPromises(DateTimeOffset now)
    {
        foreach ((MessageId id, Dictionary<PeerId, DateTimeOffset> waiting) in _promises.ToArray())
        {
            foreach ((PeerId peer, DateTimeOffset due) in waiting.ToArray())
            {
                if (due > now)
                    continue;
                waiting.Remove(peer);
                _score.AddPenalty(peer, 1);
                Counters.BrokenPromises++;
                Log.BrokenPromise(_logger, peer);
            }
            if (waiting.Count == 0)
                _promises.Remove(id);
        }
    }

    private void ShrinkMesh(string topic, HashSet<PeerId> mesh, Dictionary<PeerId, List<Pb.ControlPrune>> prunes)
    {
        // Keep the D_score best, then random ones up to D, then make sure D_out of them are outbound.
        List<PeerId> byScore = [.. mesh];
        Shuffle(byScore);
        byScore.Sort((a, b) => _score.Score(b).CompareTo(_score.Score(a)));
        List<PeerId> keep = byScore.Take(_options.DScore).ToList();
        List<PeerId> rest = byScore.Skip(_options.DScore).ToList();
        Shuffle(rest);
        keep.AddRange(rest.Take(_options.D - keep.Count));
        List<PeerId> dropped = rest.Skip(_options.D - _options.DScore).ToList();
        int outbound = keep.Count(id => _peers[id].IsOutbound);
        if (outbound < _options.DOut)
        {
            List<PeerId> outboundDropped = dropped.Where(id => _peers[id].IsOutbound).ToList();
            for (int i = keep.Count - 1; i >= _options.DScore && outbound < _options.DOut && outboundDropped.Count > 0; i--)
            {
                if (_peers[keep[i]].IsOutbound)
                    continue;
                PeerId swapped = outboundDropped[^1];
                outboundDropped.RemoveAt(outboundDropped.Count - 1);
                dropped.Remove(swapped);
                dropped.Add(keep[i]);
                keep[i] = swapped;
                outbound++;
            }
        }
        foreach (PeerId id in dropped)
            PruneFromMesh(topic, mesh, id, prunes);
    }

    private void OpportunisticGraft(string topic, HashSet<PeerId> mesh, Dictionary<PeerId, List<Pb.ControlGraft>> grafts)
    {
        List<double> scores = mesh.Select(_score.Score).Order().ToList();
        double median = scores[scores.Count / 2];
        if (median >= _scoreOptions.OpportunisticGraftThreshold)
            return;
        foreach (PeerId id in Sample(MeshCandidates(topic, mesh).Where(id => _score.Score(id) > median), _options.OpportunisticGraftPeers))
            GraftToMesh(topic, mesh, id, grafts);
    }

    /// <summary>
    /// A peer just subscribed to a topic we are in, or just joined our mesh for it: what was published
    /// or forwarded here in the moments before went past it (a message sent right after connecting,
    /// say, or one forwarded while it was subscribed but not yet in the mesh). Offer it the ids still
    /// in the gossip window, as IHAVE; it asks for the ones it lacks.
    /// </summary>
    private void OfferRecent(PeerState peer, string topic)
    {
        if (peer.IsFloodsub || !_mesh.ContainsKey(topic) || _score.Score(peer.Id) < _scoreOptions.GossipThreshold)
            return;
        if (GossipIHave(topic) is { } ihave)
        {
            Send(peer, ControlRpc(new Pb.ControlMessage { Ihave = { ihave } }), messages: 0);
            Counters.RecentOffered++;
        }
    }

    /// <summary>An IHAVE with the topic's ids in the gossip window (shuffled, within the size limits), or null when there are none.</summary>
    private Pb.ControlIHave? GossipIHave(string topic)
    {
        List<MessageId> ids = _mcache.GossipIds(topic);
        if (ids.Count == 0)
            return null;
        Shuffle(ids);
        // Within MaxIHaveLength ids and the control-section budget (each id costs its bytes + 2).
        int budget = _options.MaxControlBytes - 64 - topic.Length * 3;
        Pb.ControlIHave ihave = new() { TopicID = topic };
        foreach (MessageId id in ids)
        {
            budget -= id.Span.Length + 2;
            if (budget < 0 || ihave.MessageIDs.Count >= _options.MaxIHaveLength)
                break;
            ihave.MessageIDs.Add(ByteString.CopyFrom(id.Span));
        }
        return ihave;
    }

    private void EmitGossip(string topic, HashSet<PeerId> exclude, Dictionary<PeerId, List<Pb.ControlIHave>> gossip)
    {
        if (!_topics.TryGetValue(topic, out HashSet<PeerId>? subscribers))
            return;
        List<PeerId> candidates = subscribers.Where(id => !exclude.Contains(id) && _peers.TryGetValue(id, out PeerState? p)
            && !p.IsFloodsub && _score.Score(id) >= _scoreOptions.GossipThreshold).ToList();
        if (candidates.Count == 0 || GossipIHave(topic) is not { } ihave)
            return;
        int target = Math.Max(_options.DLazy, (int)(_options.GossipFactor * candidates.Count));
        foreach (PeerId id in Sample(candidates, target))
        {
            if (!gossip.TryGetValue(id, out List<Pb.ControlIHave>? list))
                gossip[id] = list = [];
            list.Add(ihave);
        }
    }

    private void GraftToMesh(string topic, HashSet<PeerId> mesh, PeerId id, Dictionary<PeerId, List<Pb.ControlGraft>> grafts)
    {
        if (!mesh.Add(id))
            return;
        _score.Graft(id, topic);
        if (!grafts.TryGetValue(id, out List<Pb.ControlGraft>? list))
            grafts[id] = list = [];
        list.Add(new Pb.ControlGraft { TopicID = topic });
        Log.Grafted(_logger, id, topic, "heartbeat");
    }

    private void PruneFromMesh(string topic, HashSet<PeerId> mesh, PeerId id, Dictionary<PeerId, List<Pb.ControlPrune>> prunes)
    {
        if (!mesh.Remove(id))
            return;
        _score.Prune(id, topic);
        AddBackoff(id, topic, _options.PruneBackoff);
        if (!_peers.TryGetValue(id, out PeerState? peer))
            return;
        if (!prunes.TryGetValue(id, out List<Pb.ControlPrune>? list))
            prunes[id] = list = [];
        list.Add(Prune(peer, topic, _options.PruneBackoff));
        Log.Pruned(_logger, id, topic);
    }

    private IEnumerable<PeerId> MeshCandidates(string topic, HashSet<PeerId> mesh) =>
        (_topics.GetValueOrDefault(topic) ?? []).Where(id => !mesh.Contains(id) && IsMeshCandidate(id, 0) && !InBackoff(id, topic));

    private bool IsMeshCandidate(PeerId id, double minScore) =>
        _peers.TryGetValue(id, out PeerState? peer) && !peer.IsFloodsub && _score.Score(id) >= minScore;

    /// <summary>For our own GRAFTs the backoff lasts one heartbeat longer (the spec's slack).</summary>
    private bool InBackoff(PeerId id, string topic) =>
        _backoff.TryGetValue((id, topic), out DateTimeOffset until) && until + _options.HeartbeatInterval > _time.GetUtcNow();

    // ------------------------------------------------------------------------------------------
    // Helpers

    /// <summary>Queues an RPC for the peer; false (and dropped) when its queue is full.</summary>
    private bool Send(PeerState peer, byte[] rpc, int messages)
    {
        if (TrySend(peer, rpc, messages))
            return true;
        if (!peer.Removed)
            Dropped(peer);
        return false;
    }

    /// <summary>Queues <paramref name="rpc"/> to the peer; false when it is gone or its queue is full.</summary>
    private bool TrySend(PeerState peer, byte[] rpc, int messages)
    {
        if (peer.Removed)
            return false;
        if (Interlocked.Read(ref peer.QueuedBytes) + rpc.Length > _options.MaxOutboundQueueBytes || !peer.Queue.Writer.TryWrite(rpc))
            return false;
        Interlocked.Add(ref peer.QueuedBytes, rpc.Length);
        Interlocked.Increment(ref peer.RpcsQueued);
        Interlocked.Add(ref peer.MessagesSent, messages);
        return true;
    }

    private void Dropped(PeerState peer)
    {
        long dropped = Interlocked.Increment(ref peer.RpcsDropped);
        if (dropped == 1 || dropped % 1000 == 0)
            Log.QueueFull(_logger, peer.Id, dropped);
    }

    private static byte[] ControlRpc(Pb.ControlMessage control) => new Pb.RPC { Control = control }.ToByteArray();

    private static MessageId AuthorKey(ReadOnlySpan<byte> from, ReadOnlySpan<byte> seqno)
    {
        byte[] key = new byte[from.Length + seqno.Length];
        from.CopyTo(key);
        seqno.CopyTo(key.AsSpan(from.Length));
        return new MessageId(key);
    }

    private List<T> Sample<T>(IEnumerable<T> source, int count)
    {
        if (count <= 0)
            return [];
        List<T> items = [.. source];
        Shuffle(items);
        if (items.Count > count)
            items.RemoveRange(count, items.Count - count);
        return items;
    }

    private void Shuffle<T>(List<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = _random.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static void CheckTopic(string topic)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        if (topic.Length > PubsubMessage.MaxTopicLength)
            throw new ArgumentException($"a topic has at most {PubsubMessage.MaxTopicLength} characters", nameof(topic));
    }

    private void Track(Task task)
    {
        lock (_background)
        {
            if (task.IsCompleted)
                return;
            _background.Add(task);
        }
        task.ContinueWith(t =>
        {
            lock (_background)
                _background.Remove(t);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Stops the heartbeat, half-closes our streams, ends every subscription and waits for the router's tasks.</summary>
    public async ValueTask DisposeAsync()
    {
        PeerState[] peers;
        List<PubsubSubscription> subscriptions;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            peers = [.. _peers.Values];
            subscriptions = [.. _subscriptions.Values.SelectMany(s => s)];
            _subscriptions.Clear();
            foreach (PeerState peer in peers)
                peer.Queue.Writer.TryComplete();
        }
        if (_heartbeatTimer is not null)
            await _heartbeatTimer.DisposeAsync().ConfigureAwait(false);
        if (_started)
        {
            _host.PeerIdentified -= OnPeerIdentified;
            _host.PeerDisconnected -= OnPeerDisconnected;
            foreach (string protocol in Protocols)
                _host.RemoveStreamHandler(protocol);
        }
        foreach (PubsubSubscription subscription in subscriptions)
            subscription.Complete();
        Task[] background;
        lock (_background)
            background = [.. _background];
        // Writers drain their queues and half-close; give them a moment, then cut everything.
        try
        {
            await Task.WhenAll(background).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Each task logged its own failure, or is still waiting on a peer: cancelled below.
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (PeerState peer in peers)
            peer.Inbound?.Reset();
        lock (_background)
            background = [.. _background];
        try
        {
            await Task.WhenAll(background).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // As above.
        }
        _stopping.Dispose();
    }
}

/// <summary>One message of an RPC after its signature check and validators, before the router takes it.</summary>
internal readonly record struct CheckedMessage(Pb.Message Pb, MessageId Author, SignatureStatus Status, PubsubMessage? Message,
    MessageId Id, ValidationResult Verdict);

/// <summary>Router-wide counters (touched under the router's lock).</summary>
internal sealed class RouterCounters
{
    public long Heartbeats;
    public long Delivered;
    public long Forwarded;
    public long Duplicates;
    public long InvalidMessages;
    public long IWantSent;
    public long IWantAnswered;
    public long BrokenPromises;

    /// <summary>Publishes that waited MaxPublishWait for a full peer queue in vain.</summary>
    public long PublishWaitsExpired;

    /// <summary>IHAVEs of the gossip window sent to a peer as its subscription arrived.</summary>
    public long RecentOffered;
}

/// <summary>A copy of one peer's router state, for tests and diagnostics.</summary>
internal sealed record PeerSnapshot(string? Protocol, bool HasOutbound, int Topics, long RpcsReceived, long RpcsIgnored,
    long RpcsQueued, long MessagesSent, long RpcsDropped, long QueuedBytes, long InvalidMessages, long SubscriptionsIgnored,
    int DontSendCount);
