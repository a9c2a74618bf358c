namespace Echo.Core;

/// <summary>
/// Rate-limits a repeated warning: per key (a peer and what it did), the first occurrence is
/// reported, then at most one per <c>period</c>, which carries how many were held back since the
/// last one. A peer that keeps sending bad input costs one log line a minute, not one per message.
/// At most <c>maxKeys</c> keys are tracked (the least recently reported are forgotten first). Thread-safe.
/// </summary>
public sealed class WarningLimiter
{
    /// <summary>One warning per key per minute: the default for warnings a peer can trigger.</summary>
    public static readonly TimeSpan DefaultPeriod = TimeSpan.FromMinutes(1);

    /// <summary>Keys tracked by default.</summary>
    public const int DefaultMaxKeys = 4096;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly TimeSpan _period;
    private readonly int _maxKeys;
    private readonly TimeProvider _time;
    private long _suppressedTotal;

    /// <summary>At most one report per key per <paramref name="period"/> (one minute when null).</summary>
    public WarningLimiter(TimeProvider? time = null, TimeSpan? period = null, int maxKeys = DefaultMaxKeys)
    {
        _period = period ?? DefaultPeriod;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_period, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxKeys, 1);
        _maxKeys = maxKeys;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Occurrences held back so far, over every key.</summary>
    public long SuppressedTotal => Interlocked.Read(ref _suppressedTotal);

    /// <summary>
    /// True when this occurrence of <paramref name="key"/> is to be reported; then
    /// <paramref name="suppressed"/> is how many were held back since the last report (0 for the first).
    /// False when it is held back (and counted).
    /// </summary>
    public bool ShouldReport(string key, out long suppressed)
    {
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out Entry? entry) && _time.GetElapsedTime(entry.Reported, now) < _period)
            {
                entry.Suppressed++;
                Interlocked.Increment(ref _suppressedTotal);
                suppressed = 0;
                return false;
            }
            suppressed = entry?.Suppressed ?? 0;
            if (entry is null)
            {
                if (_entries.Count >= _maxKeys)
                    Forget(now);
                entry = new Entry();
                _entries[key] = entry;
            }
            entry.Reported = now;
            entry.Suppressed = 0;
            return true;
        }
    }

    /// <summary>Forgets keys reported longer than a period ago, then (if still full) the oldest quarter.</summary>
    private void Forget(long now)
    {
        foreach (string stale in _entries.Where(e => _time.GetElapsedTime(e.Value.Reported, now) >= _period).Select(e => e.Key).ToList())
            _entries.Remove(stale);
        if (_entries.Count < _maxKeys)
            return;
        foreach (string old in _entries.OrderBy(e => e.Value.Reported).Take(Math.Max(1, _maxKeys / 4)).Select(e => e.Key).ToList())
            _entries.Remove(old);
    }

    private sealed class Entry
    {
        public long Reported;
        public long Suppressed;
    }
}
