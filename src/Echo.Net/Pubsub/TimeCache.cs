namespace Echo.Net.Pubsub;

/// <summary>
/// A set whose entries expire a fixed time after insertion (the gossipsub "seen" cache). Bounded:
/// past <c>capacity</c> the oldest entries go early. Not thread-safe.
/// </summary>
internal sealed class TimeCache<TKey>(TimeSpan ttl, int capacity, TimeProvider time) where TKey : notnull
{
    private readonly HashSet<TKey> _entries = [];
    private readonly Queue<(TKey Key, DateTimeOffset Expires)> _order = new();

    public int Count => _entries.Count;

    /// <summary>Adds the key; false when it was already there.</summary>
    public bool Add(TKey key)
    {
        Sweep();
        if (!_entries.Add(key))
            return false;
        _order.Enqueue((key, time.GetUtcNow() + ttl));
        while (_entries.Count > capacity && _order.TryDequeue(out (TKey Key, DateTimeOffset Expires) oldest))
            _entries.Remove(oldest.Key);
        return true;
    }

    public bool Contains(TKey key)
    {
        Sweep();
        return _entries.Contains(key);
    }

    public void Sweep()
    {
        DateTimeOffset now = time.GetUtcNow();
        while (_order.TryPeek(out (TKey Key, DateTimeOffset Expires) oldest) && oldest.Expires <= now)
        {
            _order.Dequeue();
            _entries.Remove(oldest.Key);
        }
    }
}
