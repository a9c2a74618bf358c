using Echo.Net.Identity;

namespace Echo.Net.ResourceManager;

/// <summary>
/// Keeps the number of connections between two watermarks: past
/// <see cref="ResourceLimits.HighWatermark"/> the host closes the least useful connections down to
/// <see cref="ResourceLimits.LowWatermark"/>. A peer protected under at least one tag
/// (<see cref="Protect"/>: a room mesh peer, a direct conversation, a transfer, a remembered peer)
/// is never trimmed, nor a connection younger than <see cref="ResourceLimits.GracePeriod"/>. Of the
/// rest, the ones with the fewest open streams go first, the newest first among equals, so a burst
/// of fresh connections cannot push out long-standing peers.
/// </summary>
public sealed class ConnectionManager
{
    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, HashSet<string>> _protected = [];
    private readonly ResourceLimits _limits;

    internal ConnectionManager(ResourceLimits limits) => _limits = limits;

    /// <summary>Protects <paramref name="peer"/> from trimming under <paramref name="tag"/> (e.g. "room:lobby", "dm", "transfer").</summary>
    public void Protect(PeerId peer, string tag)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentException.ThrowIfNullOrEmpty(tag);
        lock (_gate)
        {
            if (!_protected.TryGetValue(peer, out HashSet<string>? tags))
                _protected[peer] = tags = new HashSet<string>(StringComparer.Ordinal);
            tags.Add(tag);
        }
    }

    /// <summary>Removes the protection under <paramref name="tag"/>; returns whether the peer is still protected by another tag.</summary>
    public bool Unprotect(PeerId peer, string tag)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_gate)
        {
            if (!_protected.TryGetValue(peer, out HashSet<string>? tags))
                return false;
            tags.Remove(tag);
            if (tags.Count > 0)
                return true;
            _protected.Remove(peer);
            return false;
        }
    }

    /// <summary>Whether <paramref name="peer"/> is protected under any tag (or <paramref name="tag"/> when given).</summary>
    public bool IsProtected(PeerId peer, string? tag = null)
    {
        lock (_gate)
            return _protected.TryGetValue(peer, out HashSet<string>? tags) && (tag is null || tags.Contains(tag));
    }

    /// <summary>
    /// The peers whose connections to close so that <paramref name="connections"/> falls to the low
    /// watermark; empty while it is at or below the high one. May return fewer when too many are
    /// protected or young.
    /// </summary>
    internal IReadOnlyList<PeerId> SelectForTrim(IReadOnlyCollection<TrimCandidate> connections, DateTimeOffset now)
    {
        if (connections.Count <= _limits.HighWatermark)
            return [];
        int excess = connections.Count - _limits.LowWatermark;
        lock (_gate)
        {
            return [.. connections
                .Where(c => now - c.OpenedAt >= _limits.GracePeriod && !_protected.ContainsKey(c.Peer))
                .OrderBy(c => c.Streams)
                .ThenByDescending(c => c.OpenedAt)
                .Take(excess)
                .Select(c => c.Peer)];
        }
    }
}

/// <summary>What the connection manager knows of one connection when it trims.</summary>
internal readonly record struct TrimCandidate(PeerId Peer, int Streams, DateTimeOffset OpenedAt);
