using Echo.Net.Identity;

namespace Echo.Net.Pubsub;

// Internal views of the router's state for tests and diagnostics: each is a copy taken under the lock.
public sealed partial class PubsubRouter
{
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
            return _peers.TryGetValue(peer, out PubsubPeer? state) ? PeerSnapshot.Of(state) : null;
    }

    internal bool IsBackedOff(PeerId peer, string topic)
    {
        lock (_gate)
            return _backoffs.IsActive(peer, topic, out _);
    }

    internal DateTimeOffset? BackoffUntil(PeerId peer, string topic)
    {
        lock (_gate)
            return _backoffs.Until(peer, topic);
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
                return _promises.Count;
        }
    }
}
