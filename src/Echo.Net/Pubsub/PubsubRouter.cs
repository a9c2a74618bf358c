using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Threading;
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
/// <para>
/// Files: here the public API, the inbound path (HandleRpc, AcceptMessage, Deliver, Forward) and
/// join/leave; peers and their queues in PubsubRouter.Peers.cs, control messages in .Control.cs, the
/// heartbeat and the choice of targets in .Heartbeat.cs. State with rules of its own has its own type:
/// <see cref="PubsubPeer"/>, <see cref="PubsubPeerStreams"/>, <see cref="Backoffs"/>,
/// <see cref="GossipPromises"/>, <see cref="ControlMessage"/>, <see cref="MessageCache"/>, <see cref="PeerScore"/>.
/// </para>
/// </remarks>
public sealed partial class PubsubRouter : IAsyncDisposable
{
    public const string MeshsubV12 = "/meshsub/1.2.0";
    public const string MeshsubV11 = "/meshsub/1.1.0";
    public const string MeshsubV10 = "/meshsub/1.0.0";
    public const string FloodsubProtocol = "/floodsub/1.0.0";

    /// <summary>The protocols we serve, best first.</summary>
    public static IReadOnlyList<string> Protocols { get; } = [MeshsubV12, MeshsubV11, MeshsubV10, FloodsubProtocol];

    private readonly Libp2pHost _host;
    private readonly PubsubOptions _options;
    private readonly PeerScoreOptions _scoreOptions;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Random _random;
    private readonly Dictionary<PeerId, PubsubPeer> _peers = [];
    private readonly Dictionary<string, HashSet<PeerId>> _topics = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<PubsubSubscription>> _subscriptions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Func<PubsubMessage, ValidationResult>[]> _validators = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<PeerId>> _mesh = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<PeerId>> _fanout = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _fanoutPublished = new(StringComparer.Ordinal);
    private readonly Backoffs _backoffs;
    private readonly GossipPromises _promises = new();
    private readonly List<PeerId> _pxCandidates = [];
    private readonly MessageCache _mcache;
    private readonly TimeCache<MessageId> _seen;       // by from || seqno, whatever the id function
    private readonly TimeCache<MessageId> _seenIds;    // by message id, for IHAVE
    private readonly PeerScore _score;
    private readonly AuthorCache _authors = new();
    private readonly BackgroundTasks _background = new();
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
        _backoffs = new Backoffs(_time, options.HeartbeatInterval, options.MaxPruneBackoff);
        // Seeded from the clock in nanoseconds like go and js, so a restarted node keeps increasing.
        _seqno = _time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;
    }

    public PeerId PeerId => _host.PeerId;

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
        List<PubsubPeer>? full = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            MessageId id = new(idBytes);
            Span<byte> seqnoBytes = stackalloc byte[PubsubMessage.SeqnoLength];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(seqnoBytes, seqno);
            _seen.Add(AuthorKey(message.From.Bytes, seqnoBytes));
            _seenIds.Add(id);
            _mcache.Put(id, message);
            foreach (PubsubPeer peer in PublishTargets(topic))
            {
                if (TrySend(peer, rpc, messages: 1))
                    recipients++;
                else if (!peer.Removed && !peer.Streams.Stalled && _options.MaxPublishWait > TimeSpan.Zero)
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

    /// <summary>The peers in our mesh for <paramref name="topic"/> now (empty when we have not joined it).</summary>
    public IReadOnlyCollection<PeerId> MeshPeers(string topic)
    {
        lock (_gate)
            return _mesh.TryGetValue(topic, out HashSet<PeerId>? mesh) ? [.. mesh] : [];
    }

    /// <summary>Whether we are subscribed to <paramref name="topic"/>.</summary>
    public bool IsSubscribed(string topic)
    {
        lock (_gate)
            return _subscriptions.ContainsKey(topic);
    }

    /// <summary>Whether <paramref name="peer"/> speaks pubsub with us on its current connection.</summary>
    public bool IsPeer(PeerId peer)
    {
        lock (_gate)
            return _peers.ContainsKey(peer);
    }

    /// <summary>The connected pubsub peers subscribed to <paramref name="topic"/>.</summary>
    public IReadOnlyCollection<PeerId> TopicPeers(string topic)
    {
        lock (_gate)
            return _topics.TryGetValue(topic, out HashSet<PeerId>? peers) ? [.. peers] : [];
    }

    /// <summary>The connected peers that speak a pubsub protocol with us.</summary>
    internal IReadOnlyCollection<PeerId> Peers
    {
        get
        {
            lock (_gate)
                return [.. _peers.Keys];
        }
    }

    // ------------------------------------------------------------------------------------------
    // Inbound RPCs

    /// <summary>
    /// For an RPC read from a peer's old stream after a newer connection replaced it: the peer's state on
    /// the new connection, which the RPC then counts for (caller holds the lock). False when the peer is gone.
    /// </summary>
    private bool TakeOver(ref PubsubPeer peer)
    {
        if (!peer.Replaced || !_peers.TryGetValue(peer.Id, out PubsubPeer? current) || current.Removed)
            return false;
        peer = current;
        return true;
    }

    /// <summary>Applies one RPC from <paramref name="peer"/>; false when the peer is gone and reading should stop.</summary>
    internal bool HandleRpc(PubsubPeer peer, DecodedRpc rpc)
    {
        List<(Pb.Message Pb, MessageId Author)>? candidates = null;
        lock (_gate)
        {
            if (peer.Removed && !TakeOver(ref peer))
                return false;
            if (_score.Score(peer.Id) < _scoreOptions.GraylistThreshold)
            {
                Interlocked.Increment(ref peer.Counters.RpcsIgnored);
                Interlocked.Increment(ref peer.Counters.RpcsReceived);
                Log.Graylisted(_logger, peer.Id);
                return true;
            }
            if (rpc.SubscriptionsDropped > 0)
            {
                Interlocked.Add(ref peer.Counters.SubscriptionsIgnored, rpc.SubscriptionsDropped);
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
        // The control section as records, also outside the lock.
        ControlMessage? control = rpc.Control is { } section ? ControlMessage.FromPb(section) : null;
        lock (_gate)
        {
            if (peer.Removed && !TakeOver(ref peer))
                return false;
            if (checkedMessages is not null)
            {
                foreach (CheckedMessage message in checkedMessages)
                    AcceptMessage(peer, message);
            }
            if (rpc.ControlDropped)
                Log.ControlOverLimit(_logger, peer.Id, rpc.ControlBytes, _options.MaxControlBytes);
            if (control is not null && !peer.IsFloodsub)
                HandleControl(peer, control);
            Interlocked.Increment(ref peer.Counters.RpcsReceived);
        }
        return true;
    }

    private void HandleSubscription(PubsubPeer peer, Pb.RPC.Types.SubOpts sub)
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
                Interlocked.Increment(ref peer.Counters.SubscriptionsIgnored);
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

    private void AcceptMessage(PubsubPeer peer, CheckedMessage candidate)
    {
        (Pb.Message pb, MessageId author, SignatureStatus status, PubsubMessage? message, MessageId id, ValidationResult verdict) = candidate;
        string topic = pb.Topic;
        if (message is null)
        {
            // Forged, unsigned or malformed: never delivered nor forwarded, and it costs the sender (P4).
            // It is not marked seen, so a forgery cannot shadow the real message with that seqno.
            Interlocked.Increment(ref peer.Counters.InvalidMessages);
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
        _promises.Delivered(id);
        switch (verdict)
        {
            case ValidationResult.Reject:
                Interlocked.Increment(ref peer.Counters.InvalidMessages);
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
        foreach (PubsubPeer peer in ForwardTargets(message.Topic))
        {
            if (peer.Id == source || peer.Id == message.From || peer.DontSend.ContainsKey(id))
                continue;
            rpc ??= PubsubRpcCodec.EncodePublish(message.Encoded);
            if (Send(peer, rpc, messages: 1))
                Counters.Forwarded++;
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
    // Join and leave

    private void Join(string topic)
    {
        HashSet<PeerId> mesh = [];
        if (_fanout.Remove(topic, out HashSet<PeerId>? fanout))
        {
            _fanoutPublished.Remove(topic);
            mesh.UnionWith(fanout.Where(p => IsMeshCandidate(p, 0) && !_backoffs.HoldsOurGraft(p, topic)).Take(_options.D));
        }
        if (mesh.Count < _options.D && _topics.TryGetValue(topic, out HashSet<PeerId>? subscribers))
        {
            mesh.UnionWith(Sample(subscribers.Where(p => !mesh.Contains(p) && IsMeshCandidate(p, 0) && !_backoffs.HoldsOurGraft(p, topic)),
                _options.D - mesh.Count));
        }
        _mesh[topic] = mesh;
        byte[] announce = new Pb.RPC { Subscriptions = { new Pb.RPC.Types.SubOpts { Subscribe = true, Topicid = topic } } }.ToByteArray();
        foreach (PubsubPeer peer in _peers.Values)
            Send(peer, announce, messages: 0);
        byte[] graft = new ControlMessage { Grafts = [new Graft(topic)] }.ToRpc();
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
        foreach (PubsubPeer peer in _peers.Values)
            Send(peer, announce, messages: 0);
        if (!_mesh.Remove(topic, out HashSet<PeerId>? mesh))
            return;
        foreach (PeerId id in mesh)
        {
            _score.Prune(id, topic);
            _backoffs.Add(id, topic, _options.UnsubscribeBackoff);
            if (_peers.TryGetValue(id, out PubsubPeer? peer))
                Send(peer, new ControlMessage { Prunes = [PruneFor(peer, topic, _options.UnsubscribeBackoff)] }.ToRpc(), messages: 0);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Helpers

    private static MessageId AuthorKey(ReadOnlySpan<byte> from, ReadOnlySpan<byte> seqno)
    {
        byte[] key = new byte[from.Length + seqno.Length];
        from.CopyTo(key);
        seqno.CopyTo(key.AsSpan(from.Length));
        return new MessageId(key);
    }

    private static void CheckTopic(string topic)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        if (topic.Length > PubsubMessage.MaxTopicLength)
            throw new ArgumentException($"a topic has at most {PubsubMessage.MaxTopicLength} characters", nameof(topic));
    }

    /// <summary>Stops the heartbeat, half-closes our streams, ends every subscription and waits for the router's tasks.</summary>
    public async ValueTask DisposeAsync()
    {
        PubsubPeer[] peers;
        List<PubsubSubscription> subscriptions;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            peers = [.. _peers.Values];
            subscriptions = [.. _subscriptions.Values.SelectMany(s => s)];
            _subscriptions.Clear();
            foreach (PubsubPeer peer in peers)
                peer.Streams.CompleteQueue();
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
        // Writers drain their queues and half-close; give them a moment, then cut everything. Each task
        // logs its own failure; one still waiting on a peer is cancelled.
        await _background.DrainAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (PubsubPeer peer in peers)
            peer.Streams.Inbound?.Reset();
        await _background.DrainAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _stopping.Dispose();
    }
}

/// <summary>One message of an RPC after its signature check and validators, before the router takes it.</summary>
internal readonly record struct CheckedMessage(Pb.Message Pb, MessageId Author, SignatureStatus Status, PubsubMessage? Message,
    MessageId Id, ValidationResult Verdict);

