using Echo.Net.Identity;

namespace Echo.Net.Pubsub;

/// <summary>
/// Gossipsub v1.1 peer scores (gossipsub-v1.1.md "The Score Function"), restricted to P1 time in mesh,
/// P2 first message deliveries, P4 invalid messages and P7 behaviour penalty:
/// <code>
///   score = min(cap, Σ_topic w_t·(w1·min(meshTime/quantum, cap1) + w2·P2 + w4·P4²)) + w7·max(0, P7 - threshold)²
/// </code>
/// Counters decay every heartbeat. Not thread-safe: the router calls it under its lock.
/// </summary>
internal sealed class PeerScore(PeerScoreOptions options, TimeProvider time)
{
    /// <summary>Scores of disconnected peers kept at most; beyond it new departures are forgotten at once.</summary>
    public const int MaxRetainedPeers = 10_000;

    private readonly Dictionary<PeerId, PeerStats> _peers = [];
    private int _retained;

    public PeerScoreOptions Options => options;

    public void AddPeer(PeerId peer)
    {
        if (_peers.TryGetValue(peer, out PeerStats? stats))
        {
            if (!stats.Connected)
            {
                stats.Connected = true;
                _retained--;
            }
            return;
        }
        _peers[peer] = new PeerStats();
    }

    /// <summary>Keeps the counters of a departed peer for RetainScore when its score is not positive (go does the same).</summary>
    public void RemovePeer(PeerId peer)
    {
        if (!_peers.TryGetValue(peer, out PeerStats? stats) || !stats.Connected)
            return;
        if (Score(peer) > 0 || _retained >= MaxRetainedPeers)
        {
            _peers.Remove(peer);
            return;
        }
        foreach (TopicStats topic in stats.Topics.Values)
            topic.InMesh = false;
        stats.Connected = false;
        stats.Expires = time.GetUtcNow() + options.RetainScore;
        _retained++;
    }

    public void Graft(PeerId peer, string topic)
    {
        if (Topic(peer, topic) is { } stats)
        {
            stats.InMesh = true;
            stats.GraftTime = time.GetUtcNow();
        }
    }

    public void Prune(PeerId peer, string topic)
    {
        if (_peers.TryGetValue(peer, out PeerStats? stats) && stats.Topics.TryGetValue(topic, out TopicStats? t))
            t.InMesh = false;
    }

    public void FirstDelivery(PeerId peer, string topic)
    {
        if (Topic(peer, topic) is { } stats)
            stats.FirstMessageDeliveries = Math.Min(stats.FirstMessageDeliveries + 1, options.FirstMessageDeliveriesCap);
    }

    public void InvalidDelivery(PeerId peer, string topic)
    {
        if (Topic(peer, topic) is { } stats)
            stats.InvalidMessageDeliveries++;
    }

    public void AddPenalty(PeerId peer, double count)
    {
        if (_peers.TryGetValue(peer, out PeerStats? stats))
            stats.BehaviourPenalty += count;
    }

    public double InvalidDeliveries(PeerId peer, string topic) =>
        _peers.TryGetValue(peer, out PeerStats? stats) && stats.Topics.TryGetValue(topic, out TopicStats? t)
            ? t.InvalidMessageDeliveries : 0;

    public double BehaviourPenalty(PeerId peer) => _peers.TryGetValue(peer, out PeerStats? stats) ? stats.BehaviourPenalty : 0;

    public double Score(PeerId peer)
    {
        if (!_peers.TryGetValue(peer, out PeerStats? stats))
            return 0;
        DateTimeOffset now = time.GetUtcNow();
        double topicScore = 0;
        foreach (TopicStats t in stats.Topics.Values)
        {
            double p1 = 0;
            if (t.InMesh)
                p1 = Math.Min((now - t.GraftTime) / options.TimeInMeshQuantum, options.TimeInMeshCap);
            double p4 = t.InvalidMessageDeliveries * t.InvalidMessageDeliveries;
            topicScore += options.TopicWeight * (options.TimeInMeshWeight * Math.Max(p1, 0)
                + options.FirstMessageDeliveriesWeight * t.FirstMessageDeliveries
                + options.InvalidMessageDeliveriesWeight * p4);
        }
        if (options.TopicScoreCap > 0 && topicScore > options.TopicScoreCap)
            topicScore = options.TopicScoreCap;
        double score = topicScore;
        double excess = stats.BehaviourPenalty - options.BehaviourPenaltyThreshold;
        if (excess > 0)
            score += options.BehaviourPenaltyWeight * excess * excess;
        return score;
    }

    /// <summary>Once per heartbeat: decay the counters and forget expired departed peers.</summary>
    public void Decay()
    {
        DateTimeOffset now = time.GetUtcNow();
        List<PeerId>? expired = null;
        foreach ((PeerId peer, PeerStats stats) in _peers)
        {
            if (!stats.Connected && now >= stats.Expires)
            {
                (expired ??= []).Add(peer);
                continue;
            }
            foreach (TopicStats t in stats.Topics.Values)
            {
                t.FirstMessageDeliveries = DecayValue(t.FirstMessageDeliveries, options.FirstMessageDeliveriesDecay);
                t.InvalidMessageDeliveries = DecayValue(t.InvalidMessageDeliveries, options.InvalidMessageDeliveriesDecay);
            }
            stats.BehaviourPenalty = DecayValue(stats.BehaviourPenalty, options.BehaviourPenaltyDecay);
        }
        if (expired is not null)
        {
            foreach (PeerId peer in expired)
                _peers.Remove(peer);
            _retained -= expired.Count;
        }
    }

    /// <summary>Drops a topic's counters (we left it); its stats would only decay from here on.</summary>
    public void ForgetTopic(string topic)
    {
        foreach (PeerStats stats in _peers.Values)
            stats.Topics.Remove(topic);
    }

    private double DecayValue(double value, double factor)
    {
        value *= factor;
        return value < options.DecayToZero ? 0 : value;
    }

    private TopicStats? Topic(PeerId peer, string topic)
    {
        if (!_peers.TryGetValue(peer, out PeerStats? stats))
            return null;
        if (!stats.Topics.TryGetValue(topic, out TopicStats? t))
            stats.Topics[topic] = t = new TopicStats();
        return t;
    }

    private sealed class PeerStats
    {
        public bool Connected = true;
        public DateTimeOffset Expires;
        public double BehaviourPenalty;
        public readonly Dictionary<string, TopicStats> Topics = new(StringComparer.Ordinal);
    }

    private sealed class TopicStats
    {
        public bool InMesh;
        public DateTimeOffset GraftTime;
        public double FirstMessageDeliveries;
        public double InvalidMessageDeliveries;
    }
}
