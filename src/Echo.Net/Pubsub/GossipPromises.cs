using Echo.Net.Identity;

namespace Echo.Net.Pubsub;

/// <summary>
/// IWANT promises (gossipsub-v1.1.md "Spam Protection Measures"): when we ask a peer for ids it
/// advertised in IHAVE we track one of them; if the message has not arrived, from anyone, by the
/// follow-up time, the advertiser broke its promise and is penalised. Not thread-safe: the router
/// calls it under its lock.
/// </summary>
internal sealed class GossipPromises
{
    private readonly Dictionary<MessageId, Dictionary<PeerId, DateTimeOffset>> _promises = [];

    /// <summary>How many (message, peer) promises are open.</summary>
    public int Count => _promises.Values.Sum(p => p.Count);

    /// <summary>Records that <paramref name="peer"/> promised <paramref name="id"/> by <paramref name="due"/>; a peer's first promise of an id stands.</summary>
    public void Add(MessageId id, PeerId peer, DateTimeOffset due)
    {
        if (!_promises.TryGetValue(id, out Dictionary<PeerId, DateTimeOffset>? waiting))
            _promises[id] = waiting = [];
        waiting.TryAdd(peer, due);
    }

    /// <summary>The message arrived (whoever sent it): every promise of it is kept.</summary>
    public void Delivered(MessageId id) => _promises.Remove(id);

    /// <summary>
    /// Removes the promises due by <paramref name="now"/> and returns their peers, once per broken
    /// promise (a peer that broke two is there twice); null when none broke.
    /// </summary>
    public List<PeerId>? TakeBroken(DateTimeOffset now)
    {
        List<PeerId>? broken = null;
        foreach ((MessageId id, Dictionary<PeerId, DateTimeOffset> waiting) in _promises.ToArray())
        {
            foreach ((PeerId peer, DateTimeOffset due) in waiting.ToArray())
            {
                if (due > now)
                    continue;
                waiting.Remove(peer);
                (broken ??= []).Add(peer);
            }
            if (waiting.Count == 0)
                _promises.Remove(id);
        }
        return broken;
    }
}
