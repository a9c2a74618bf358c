using System.Net.Sockets;

namespace Echo.Net.Mdns;

/// <summary>
/// When to answer a query (RFC 6762): at most once per <c>spacing</c> per service, address family
/// and interface. A query inside that time gets one deferred answer, sent when the time is up; more
/// queries meanwhile are covered by it. Not thread-safe: its owner calls it under its lock.
/// </summary>
internal sealed class MdnsAnswerSpacing(TimeSpan spacing)
{
    private readonly Dictionary<(string Service, AddressFamily Family, int Interface), DateTimeOffset> _lastAnswer = [];
    private readonly HashSet<(string Service, AddressFamily Family, int Interface)> _deferred = [];

    /// <summary>
    /// A query for <paramref name="key"/> came at <paramref name="now"/>: <see cref="TimeSpan.Zero"/>
    /// to answer now (counted as answered), a positive wait to answer after it (then call
    /// <see cref="Answered"/>), or null when an answer is deferred already.
    /// </summary>
    public TimeSpan? Query((string Service, AddressFamily Family, int Interface) key, DateTimeOffset now)
    {
        if (_deferred.Contains(key))
            return null;
        TimeSpan wait = _lastAnswer.TryGetValue(key, out DateTimeOffset last) ? last + spacing - now : TimeSpan.Zero;
        if (wait > TimeSpan.Zero)
        {
            _deferred.Add(key);
            return wait;
        }
        _lastAnswer[key] = now;
        return TimeSpan.Zero;
    }

    /// <summary>The deferred answer for <paramref name="key"/> is sent at <paramref name="now"/>.</summary>
    public void Answered((string Service, AddressFamily Family, int Interface) key, DateTimeOffset now)
    {
        _deferred.Remove(key);
        _lastAnswer[key] = now;
    }
}
