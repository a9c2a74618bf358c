namespace Echo.Core.Chat;

/// <summary>
/// A token bucket per key: each key may take <c>burst</c> units at once and <c>perSecond</c> units a
/// second after that. At most <c>maxKeys</c> keys are tracked; when the table is full, keys whose
/// bucket has refilled are forgotten first (they lose nothing), then the least recently used quarter.
/// Thread-safe.
/// </summary>
public sealed class KeyedRate<TKey> where TKey : notnull
{
    private readonly Lock _gate = new();
    private readonly Dictionary<TKey, Bucket> _buckets;
    private readonly double _burst;
    private readonly double _perSecond;
    private readonly int _maxKeys;
    private readonly TimeProvider _time;

    /// <summary>Buckets of <paramref name="burst"/> units refilled at <paramref name="perSecond"/>, for at most <paramref name="maxKeys"/> keys.</summary>
    public KeyedRate(double burst, double perSecond, int maxKeys, TimeProvider time, IEqualityComparer<TKey>? comparer = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(burst, 0);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(perSecond, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxKeys, 1);
        _burst = burst;
        _perSecond = perSecond;
        _maxKeys = maxKeys;
        _time = time;
        _buckets = new Dictionary<TKey, Bucket>(comparer);
    }

    /// <summary>Keys tracked now (bounded by the maximum given).</summary>
    public int Count
    {
        get { lock (_gate) return _buckets.Count; }
    }

    /// <summary>True when <paramref name="key"/> has at least one unit left, without taking it.</summary>
    public bool HasRoom(TKey key)
    {
        lock (_gate)
            return Refill(key, _time.GetTimestamp()).Tokens >= 1;
    }

    /// <summary>Takes <paramref name="amount"/> units when the bucket holds them; false (nothing taken) when not.</summary>
    public bool TryTake(TKey key, double amount = 1) => TryTakeOrWait(key, amount) is null;

    /// <summary>Takes <paramref name="amount"/> units and returns null, or takes nothing and returns how long until they are there.</summary>
    public TimeSpan? TryTakeOrWait(TKey key, double amount = 1)
    {
        lock (_gate)
        {
            Bucket bucket = Refill(key, _time.GetTimestamp());
            if (bucket.Tokens >= amount)
            {
                bucket.Tokens -= amount;
                return null;
            }
            return TimeSpan.FromSeconds(Math.Min((amount - bucket.Tokens) / _perSecond, 86_400));
        }
    }

    /// <summary>
    /// Takes <paramref name="amount"/> units even when the bucket holds fewer: it goes into debt
    /// (down to minus one burst), so a cost known only afterwards (bytes served) is paid by what
    /// follows. A negative amount gives units back (up to the burst).
    /// </summary>
    public void Charge(TKey key, double amount)
    {
        lock (_gate)
        {
            Bucket bucket = Refill(key, _time.GetTimestamp());
            bucket.Tokens = Math.Clamp(bucket.Tokens - amount, -_burst, _burst);
        }
    }

    private Bucket Refill(TKey key, long now)
    {
        if (!_buckets.TryGetValue(key, out Bucket? bucket))
        {
            if (_buckets.Count >= _maxKeys)
                MakeRoom(now);
            bucket = new Bucket { Tokens = _burst, Last = now };
            _buckets[key] = bucket;
            return bucket;
        }
        bucket.Tokens = Math.Min(_burst, bucket.Tokens + _time.GetElapsedTime(bucket.Last, now).TotalSeconds * _perSecond);
        bucket.Last = now;
        return bucket;
    }

    private void MakeRoom(long now)
    {
        List<TKey> refilled = [];
        foreach ((TKey key, Bucket bucket) in _buckets)
        {
            if (bucket.Tokens + _time.GetElapsedTime(bucket.Last, now).TotalSeconds * _perSecond >= _burst)
                refilled.Add(key);
        }
        foreach (TKey key in refilled)
            _buckets.Remove(key);
        if (_buckets.Count < _maxKeys)
            return;
        foreach (TKey key in _buckets.OrderBy(p => p.Value.Last).Take(Math.Max(1, _maxKeys / 4)).Select(p => p.Key).ToList())
            _buckets.Remove(key);
    }

    private sealed class Bucket
    {
        public double Tokens;
        public long Last;
    }
}
