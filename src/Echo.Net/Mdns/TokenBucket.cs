namespace Echo.Net.Mdns;

/// <summary>
/// A token bucket refilled continuously at <paramref name="perSecond"/> tokens a second, holding at
/// most <paramref name="burst"/>; it starts full. Not thread-safe: the owner locks.
/// </summary>
internal sealed class TokenBucket(double perSecond, double burst)
{
    private readonly double _burst = burst;
    private double _tokens = burst;
    private DateTimeOffset _at = DateTimeOffset.MinValue;

    /// <summary>Takes one token if there is one at <paramref name="now"/>.</summary>
    public bool TryTake(DateTimeOffset now)
    {
        Refill(now);
        if (_tokens < 1)
            return false;
        _tokens--;
        return true;
    }

    /// <summary>Whether the bucket is full again at <paramref name="now"/> (forgetting it loses nothing).</summary>
    public bool IsFull(DateTimeOffset now)
    {
        Refill(now);
        return _tokens >= _burst;
    }

    private void Refill(DateTimeOffset now)
    {
        if (_at != DateTimeOffset.MinValue && now > _at)
            _tokens = Math.Min(_burst, _tokens + (now - _at).TotalSeconds * perSecond);
        if (now > _at)
            _at = now;
    }
}
