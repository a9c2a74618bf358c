using System.Net;
using System.Net.Sockets;

namespace Echo.Net.Mdns;

/// <summary>
/// Decides, before a packet is decoded, whether it is read at all: at most
/// <see cref="MdnsOptions.MaxPacketsPerSecond"/> packets a second per interface (and address
/// family), and at most <see cref="MdnsOptions.MaxPacketsPerSecondPerSource"/> of those from one
/// source address; each limit allows bursts of one second's worth. The interface limit bounds what
/// a flood costs whatever its packets hold and wherever they claim to come from; the source limit
/// keeps one flooding host from using up the interface's share, so the others are still heard.
/// Up to <see cref="MaxSources"/> sources are remembered; when that many are, the idle ones are
/// forgotten (at most once a second), and a new source that finds no room is held to the interface
/// limit only. Thread-safe.
/// </summary>
internal sealed class MdnsPacketLimiter(MdnsOptions options, TimeProvider time)
{
    /// <summary>The most source addresses remembered at once.</summary>
    public const int MaxSources = 256;

    private readonly Lock _gate = new();
    private readonly Dictionary<(AddressFamily Family, int Interface), TokenBucket> _interfaces = [];
    private readonly Dictionary<IPAddress, TokenBucket> _sources = [];
    private long _dropped;
    private DateTimeOffset _lastReport = DateTimeOffset.MinValue;
    private DateTimeOffset _lastPrune = DateTimeOffset.MinValue;

    /// <summary>Whether a packet from <paramref name="source"/> on <paramref name="interfaceIndex"/> may be read now; a refusal is counted.</summary>
    public bool Allow(IPAddress source, int interfaceIndex)
    {
        DateTimeOffset now = time.GetUtcNow();
        lock (_gate)
        {
            TokenBucket? perSource = SourceBucket(source, now);
            if (perSource is not null && !perSource.TryTake(now))
            {
                _dropped++;
                return false;
            }
            (AddressFamily, int) key = (source.AddressFamily, interfaceIndex);
            if (!_interfaces.TryGetValue(key, out TokenBucket? perInterface))
                _interfaces[key] = perInterface = new TokenBucket(options.MaxPacketsPerSecond, options.MaxPacketsPerSecond);
            if (perInterface.TryTake(now))
                return true;
            _dropped++;
            return false;
        }
    }

    /// <summary>
    /// The packets refused since the last report, when there are some and the last report is at
    /// least <paramref name="spacing"/> old (the count then starts again); else 0.
    /// </summary>
    public long DroppedToReport(TimeSpan spacing)
    {
        DateTimeOffset now = time.GetUtcNow();
        lock (_gate)
        {
            if (_dropped == 0 || now - _lastReport < spacing)
                return 0;
            long dropped = _dropped;
            (_dropped, _lastReport) = (0, now);
            return dropped;
        }
    }

    /// <summary>The number of sources remembered (for tests).</summary>
    public int SourceCount
    {
        get
        {
            lock (_gate)
                return _sources.Count;
        }
    }

    private TokenBucket? SourceBucket(IPAddress source, DateTimeOffset now)
    {
        if (_sources.TryGetValue(source, out TokenBucket? bucket))
            return bucket;
        if (_sources.Count >= MaxSources)
        {
            if (now - _lastPrune < TimeSpan.FromSeconds(1))
                return null;                // spoofed sources: look for idle ones at most once a second
            _lastPrune = now;
            foreach (IPAddress idle in _sources.Where(s => s.Value.IsFull(now)).Select(s => s.Key).ToList())
                _sources.Remove(idle);
            if (_sources.Count >= MaxSources)
                return null;
        }
        bucket = new TokenBucket(options.MaxPacketsPerSecondPerSource, options.MaxPacketsPerSecondPerSource);
        _sources[source] = bucket;
        return bucket;
    }
}
