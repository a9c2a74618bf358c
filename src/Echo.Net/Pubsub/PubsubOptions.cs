namespace Echo.Net.Pubsub;

/// <summary>Settings of a <see cref="PubsubRouter"/>, each with the reason for its default.</summary>
public sealed record PubsubOptions
{
    /// <summary>
    /// Which peers pubsub runs with over a limited (relayed) connection, judged by their identify;
    /// null: none, as go and js do (a relay's circuit carries 128 KiB at most). The host must also
    /// allow the pubsub protocols on limited connections (<see cref="Host.Libp2pHost.AllowOnLimitedConnections"/>).
    /// </summary>
    public Func<Identify.IdentifyInfo, bool>? RunOnLimited { get; init; }

    /// <summary>Hard ceiling of <see cref="MaxControlBytes"/>; a control section is never allowed more than this.</summary>
    public const int MaxControlBytesLimit = 256 * 1024;

    /// <summary>Desired mesh degree; the spec's and every implementation's 6.</summary>
    public int D { get; init; } = 6;

    /// <summary>Graft when the mesh falls below this; go and rust use 5 (the spec says 4).</summary>
    public int DLo { get; init; } = 5;

    /// <summary>Prune when the mesh grows above this; 12 everywhere.</summary>
    public int DHi { get; init; } = 12;

    /// <summary>Minimum number of peers to send gossip to per topic; 6 everywhere.</summary>
    public int DLazy { get; init; } = 6;

    /// <summary>Outbound-connection quota in the mesh (v1.1, sybil resistance); 2 everywhere.</summary>
    public int DOut { get; init; } = 2;

    /// <summary>Peers kept by score when pruning an oversubscribed mesh; 4 in go and js.</summary>
    public int DScore { get; init; } = 4;

    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>go and js run the first heartbeat after 100 ms.</summary>
    public TimeSpan HeartbeatInitialDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Fanout state of a topic we publish to without subscribing lives this long after the last publish.</summary>
    public TimeSpan FanoutTtl { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Heartbeats a message stays in the message cache (answerable by IWANT).</summary>
    public int HistoryLength { get; init; } = 5;

    /// <summary>Heartbeats of the message cache advertised in IHAVE gossip.</summary>
    public int HistoryGossip { get; init; } = 3;

    /// <summary>How long a message is remembered as seen; go and js use 120 s.</summary>
    public TimeSpan SeenTtl { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Share of non-mesh topic peers gossiped to each heartbeat, at least <see cref="DLazy"/> (v1.1).</summary>
    public double GossipFactor { get; init; } = 0.25;

    /// <summary>How long a pruned peer is not grafted again (and must not graft us); 1 minute everywhere.</summary>
    public TimeSpan PruneBackoff { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Backoff sent with the PRUNEs of a topic we leave; 10 s in go and js.</summary>
    public TimeSpan UnsubscribeBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A PRUNE's backoff is capped at this, so a peer cannot make us overflow or shun it forever.</summary>
    public TimeSpan MaxPruneBackoff { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Send our own messages to every topic peer above the publish threshold (v1.1; js and rust default).</summary>
    public bool FloodPublish { get; init; } = true;

    /// <summary>How many times a message is sent to one peer in answer to IWANTs (v1.1 spam protection).</summary>
    public int GossipRetransmission { get; init; } = 3;

    /// <summary>An IWANT we sent must be answered within this, else the advertiser is penalised (P7).</summary>
    public TimeSpan IWantFollowupTime { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>A GRAFT this soon after we pruned the peer costs it an extra penalty.</summary>
    public TimeSpan GraftFloodThreshold { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Heartbeats between opportunistic grafting rounds (60 = 1 minute, as go and js).</summary>
    public int OpportunisticGraftTicks { get; init; } = 60;

    public int OpportunisticGraftPeers { get; init; } = 2;

    /// <summary>Message ids considered from one peer's IHAVEs per heartbeat; go and js 5000.</summary>
    public int MaxIHaveLength { get; init; } = 5000;

    /// <summary>IHAVE messages considered from one peer per heartbeat; go and js 10.</summary>
    public int MaxIHaveMessages { get; init; } = 10;

    /// <summary>Message ids answered from one IWANT-carrying RPC.</summary>
    public int MaxIWantIds { get; init; } = 5000;

    /// <summary>IDONTWANT ids honoured from one peer per heartbeat; js keeps 512.</summary>
    public int MaxIDontWantIds { get; init; } = 512;

    /// <summary>Messages of this many data bytes or more make us send IDONTWANT to the mesh (v1.2); go uses 1 KiB.</summary>
    public int IDontWantMinDataSize { get; init; } = 1024;

    /// <summary>Topics remembered per peer; more subscriptions are ignored (rust's spam fix keeps 100 too).</summary>
    public int MaxSubscriptionsPerPeer { get; init; } = 100;

    /// <summary>
    /// Largest control section of one RPC that is decoded; a larger one is skipped undecoded. 16 KiB is
    /// rust's bound and holds several hundred message ids.
    /// </summary>
    public int MaxControlBytes { get; init; } = 16 * 1024;

    /// <summary>Bytes queued for one peer before further RPCs to it are dropped (a slow peer costs no more).</summary>
    public int MaxOutboundQueueBytes { get; init; } = 8 << 20;

    /// <summary>RPCs queued for one peer before further RPCs to it are dropped.</summary>
    public int MaxOutboundQueueLength { get; init; } = 4096;

    /// <summary>
    /// How long <see cref="PubsubRouter.PublishAsync"/> waits for room in a peer's full outbound queue
    /// before dropping the message for that peer. A peer that made a publish wait this long in vain is
    /// not waited for again until its queue moves; zero drops at once, as forwarding always does.
    /// </summary>
    public TimeSpan MaxPublishWait { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Messages buffered per subscription; while its reader lags this far, the router stops reading
    /// RPCs that carry the topic (the senders' streams fill and slow them), so none is dropped.
    /// </summary>
    public int SubscriptionCapacity { get; init; } = 4096;

    /// <summary>PX peers looked at from one PRUNE (go's GossipSubPrunePeers).</summary>
    public int MaxPxPeers { get; init; } = 16;

    /// <summary>Message ids derive from the message; <see cref="PubsubMessageIds.KeyAndSeqno"/> matches js-libp2p.</summary>
    public Func<PubsubMessage, byte[]> MessageIdFunction { get; init; } = PubsubMessageIds.FromAndSeqno;

    /// <summary>Put our encoded public key in the <c>key</c> field (js does always, go only when <c>from</c> cannot inline it).</summary>
    public bool IncludeKey { get; init; }

    /// <summary>Deliver our own published messages to our own subscriptions (go does, js does not by default).</summary>
    public bool DeliverOwnMessages { get; init; }

    /// <summary>Entries of each seen cache; beyond it the oldest are forgotten early.</summary>
    public int MaxSeenEntries { get; init; } = 1 << 18;

    public PeerScoreOptions Score { get; init; } = new();

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(D, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(DLo, D);
        ArgumentOutOfRangeException.ThrowIfLessThan(DHi, D);
        ArgumentOutOfRangeException.ThrowIfNegative(DLazy);
        if (DOut >= DLo && DOut > 0)
            throw new ArgumentOutOfRangeException(nameof(DOut), "D_out must be below D_lo");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(DOut, D / 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(DScore, D);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HeartbeatInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(HeartbeatInitialDelay.Ticks);
        ArgumentOutOfRangeException.ThrowIfLessThan(HistoryLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(HistoryGossip, HistoryLength);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(SeenTtl, TimeSpan.Zero);
        if (GossipFactor is < 0 or > 1 || double.IsNaN(GossipFactor))
            throw new ArgumentOutOfRangeException(nameof(GossipFactor), "between 0 and 1");
        ArgumentOutOfRangeException.ThrowIfNegative(PruneBackoff.Ticks);
        ArgumentOutOfRangeException.ThrowIfNegative(UnsubscribeBackoff.Ticks);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPruneBackoff, PruneBackoff);
        ArgumentOutOfRangeException.ThrowIfNegative(GossipRetransmission);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(IWantFollowupTime, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(OpportunisticGraftTicks, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(OpportunisticGraftPeers);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxIHaveLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxIHaveMessages, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxIWantIds, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(MaxIDontWantIds);
        ArgumentOutOfRangeException.ThrowIfNegative(IDontWantMinDataSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSubscriptionsPerPeer, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxControlBytes, 64);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxControlBytes, MaxControlBytesLimit);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxOutboundQueueBytes, PubsubRpcCodec.MaxRpcSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxOutboundQueueLength, 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(SubscriptionCapacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(MaxPublishWait.Ticks);
        ArgumentOutOfRangeException.ThrowIfNegative(MaxPxPeers);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSeenEntries, 1024);
        ArgumentNullException.ThrowIfNull(MessageIdFunction);
        ArgumentNullException.ThrowIfNull(Score);
        Score.Validate();
    }
}

/// <summary>
/// Peer scoring (gossipsub v1.1 "Peer Scoring"): thresholds as js-libp2p sets them, and weights for
/// P1 (time in mesh), P2 (first deliveries), P4 (invalid messages) and P7 (behaviour penalty). P3/P3b
/// (mesh delivery rate) and P5/P6 are not computed. Topic parameters apply to every topic we subscribe to.
/// </summary>
public sealed record PeerScoreOptions
{
    /// <summary>Below it no gossip goes to the peer and its gossip is ignored (js: -10).</summary>
    public double GossipThreshold { get; init; } = -10;

    /// <summary>Below it our own messages are not flood-published to the peer (js: -50).</summary>
    public double PublishThreshold { get; init; } = -50;

    /// <summary>Below it every RPC from the peer is ignored (js: -80).</summary>
    public double GraylistThreshold { get; init; } = -80;

    /// <summary>PX from a peer is looked at only when its score is at least this (js: 10).</summary>
    public double AcceptPxThreshold { get; init; } = 10;

    /// <summary>When the median mesh score is below this, better peers are grafted (js: 20).</summary>
    public double OpportunisticGraftThreshold { get; init; } = 20;

    /// <summary>Cap of the positive sum of topic scores (js: 10).</summary>
    public double TopicScoreCap { get; init; } = 10;

    /// <summary>P7 weight; the counter above <see cref="BehaviourPenaltyThreshold"/> is squared (js: -10).</summary>
    public double BehaviourPenaltyWeight { get; init; } = -10;

    public double BehaviourPenaltyThreshold { get; init; }

    /// <summary>Per-heartbeat decay of the P7 counter; 0.9 forgets a penalty in about half a minute.</summary>
    public double BehaviourPenaltyDecay { get; init; } = 0.9;

    /// <summary>A decayed counter below this counts as zero (go: 0.01).</summary>
    public double DecayToZero { get; init; } = 0.01;

    /// <summary>How long a disconnected peer's score is kept, so reconnecting does not clear penalties.</summary>
    public TimeSpan RetainScore { get; init; } = TimeSpan.FromMinutes(10);

    public double TopicWeight { get; init; } = 1;

    /// <summary>P1 per <see cref="TimeInMeshQuantum"/> in the mesh, up to <see cref="TimeInMeshCap"/> quanta (+3 after 5 minutes).</summary>
    public double TimeInMeshWeight { get; init; } = 0.01;

    public TimeSpan TimeInMeshQuantum { get; init; } = TimeSpan.FromSeconds(1);

    public double TimeInMeshCap { get; init; } = 300;

    /// <summary>P2 per message first delivered by the peer, capped at <see cref="FirstMessageDeliveriesCap"/>.</summary>
    public double FirstMessageDeliveriesWeight { get; init; } = 0.5;

    public double FirstMessageDeliveriesDecay { get; init; } = 0.9;

    public double FirstMessageDeliveriesCap { get; init; } = 10;

    /// <summary>P4: the squared count of invalid messages; -10 puts a peer below the gossip threshold at its second.</summary>
    public double InvalidMessageDeliveriesWeight { get; init; } = -10;

    /// <summary>Per-heartbeat decay of the P4 counter; 0.99 halves it in about 70 s.</summary>
    public double InvalidMessageDeliveriesDecay { get; init; } = 0.99;

    public void Validate()
    {
        if (GossipThreshold > 0)
            throw new ArgumentOutOfRangeException(nameof(GossipThreshold), "must be <= 0");
        if (PublishThreshold > GossipThreshold)
            throw new ArgumentOutOfRangeException(nameof(PublishThreshold), "must be <= the gossip threshold");
        if (GraylistThreshold > PublishThreshold)
            throw new ArgumentOutOfRangeException(nameof(GraylistThreshold), "must be <= the publish threshold");
        ArgumentOutOfRangeException.ThrowIfNegative(AcceptPxThreshold);
        ArgumentOutOfRangeException.ThrowIfNegative(OpportunisticGraftThreshold);
        ArgumentOutOfRangeException.ThrowIfNegative(TopicScoreCap);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(BehaviourPenaltyWeight, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(InvalidMessageDeliveriesWeight, 0);
        ArgumentOutOfRangeException.ThrowIfNegative(TimeInMeshWeight);
        ArgumentOutOfRangeException.ThrowIfNegative(FirstMessageDeliveriesWeight);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(TimeInMeshQuantum, TimeSpan.Zero);
        foreach ((string name, double decay) in new[]
        {
            (nameof(BehaviourPenaltyDecay), BehaviourPenaltyDecay),
            (nameof(FirstMessageDeliveriesDecay), FirstMessageDeliveriesDecay),
            (nameof(InvalidMessageDeliveriesDecay), InvalidMessageDeliveriesDecay),
        })
        {
            if (decay is <= 0 or >= 1 || double.IsNaN(decay))
                throw new ArgumentOutOfRangeException(name, "a decay factor is in (0, 1)");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(RetainScore.Ticks);
    }
}
