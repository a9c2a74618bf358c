using Echo.Net.Identity;

namespace Echo.Net.Pubsub;

/// <summary>
/// GRAFT backoffs per (peer, topic) (gossipsub-v1.1.md "Prune Backoff and Peer Exchange"): set when a
/// peer leaves a mesh either way, only ever extended, kept one heartbeat past their end and then
/// swept. Not thread-safe: the router calls it under its lock.
/// </summary>
internal sealed class Backoffs
{
    private readonly Dictionary<(PeerId Peer, string Topic), DateTimeOffset> _until = [];
    private readonly TimeProvider _time;
    private readonly TimeSpan _slack;
    private readonly TimeSpan _max;

    /// <param name="time">The clock.</param>
    /// <param name="slack">How long a backoff still holds for our own GRAFTs after it ended (the spec's one heartbeat).</param>
    /// <param name="max">The longest backoff a peer can ask for in a PRUNE.</param>
    public Backoffs(TimeProvider time, TimeSpan slack, TimeSpan max)
    {
        _time = time;
        _slack = slack;
        _max = max;
    }

    /// <summary>How many (peer, topic) backoffs are kept.</summary>
    public int Count => _until.Count;

    /// <summary>Backs <paramref name="peer"/> off <paramref name="topic"/> for <paramref name="backoff"/> from now, unless it already is for longer.</summary>
    public void Add(PeerId peer, string topic, TimeSpan backoff)
    {
        DateTimeOffset until = _time.GetUtcNow() + backoff;
        if (!_until.TryGetValue((peer, topic), out DateTimeOffset current) || current < until)
            _until[(peer, topic)] = until;
    }

    /// <summary>Whether the backoff is running now (a GRAFT from the peer breaks it); <paramref name="until"/> is its end.</summary>
    public bool IsActive(PeerId peer, string topic, out DateTimeOffset until) =>
        _until.TryGetValue((peer, topic), out until) && until > _time.GetUtcNow();

    /// <summary>For our own GRAFTs the backoff lasts one heartbeat longer (the spec's slack).</summary>
    public bool HoldsOurGraft(PeerId peer, string topic) =>
        _until.TryGetValue((peer, topic), out DateTimeOffset until) && until + _slack > _time.GetUtcNow();

    /// <summary>The end of the backoff, running or not yet swept; null when there is none.</summary>
    public DateTimeOffset? Until(PeerId peer, string topic) =>
        _until.TryGetValue((peer, topic), out DateTimeOffset until) ? until : null;

    /// <summary>Forgets the backoffs that ended more than the slack ago; the heartbeat calls it.</summary>
    public void Sweep()
    {
        DateTimeOffset now = _time.GetUtcNow();
        foreach (((PeerId, string) key, DateTimeOffset until) in _until.ToArray())
        {
            if (until + _slack < now)
                _until.Remove(key);
        }
    }

    /// <summary>Seconds from the wire as a backoff: never overflows, capped at the maximum.</summary>
    public TimeSpan FromWireSeconds(ulong seconds) =>
        seconds >= (ulong)_max.TotalSeconds ? _max : TimeSpan.FromSeconds(seconds);
}
