using Echo.Net.Identity;

namespace Echo.Net.Mdns;

/// <summary>
/// Per-peer exponential back-off for automatic dials: after the n-th failure in a row the peer is
/// not dialed again for <c>initial · 2^(n-1)</c>, at most <c>max</c>; a success forgets the peer.
/// Remembers at most <c>capacity</c> peers (those whose wait ended go first). Not thread-safe.
/// </summary>
public sealed class DialBackoff(TimeSpan initial, TimeSpan max, int capacity = 256)
{
    private readonly Dictionary<PeerId, (int Failures, DateTimeOffset NotBefore)> _peers = [];

    public int Count => _peers.Count;

    /// <summary>Whether <paramref name="peer"/> may be dialed at <paramref name="now"/>.</summary>
    public bool CanDial(PeerId peer, DateTimeOffset now) =>
        !_peers.TryGetValue(peer, out (int Failures, DateTimeOffset NotBefore) state) || state.NotBefore <= now;

    /// <summary>Failures in a row so far.</summary>
    public int Failures(PeerId peer) => _peers.TryGetValue(peer, out (int Failures, DateTimeOffset NotBefore) state) ? state.Failures : 0;

    /// <summary>Counts a failed dial and returns how long to wait before the next one.</summary>
    public TimeSpan Failed(PeerId peer, DateTimeOffset now)
    {
        int failures = Failures(peer) + 1;
        double factor = Math.Pow(2, Math.Min(failures - 1, 30));
        TimeSpan wait = initial.Ticks * factor >= max.Ticks ? max : TimeSpan.FromTicks((long)(initial.Ticks * factor));
        if (!_peers.ContainsKey(peer) && _peers.Count >= capacity)
            Evict(now);
        _peers[peer] = (failures, now + wait);
        return wait;
    }

    /// <summary>A dial worked: the peer starts afresh.</summary>
    public void Succeeded(PeerId peer) => _peers.Remove(peer);

    private void Evict(DateTimeOffset now)
    {
        List<PeerId> ready = [.. _peers.Where(p => p.Value.NotBefore <= now).Select(p => p.Key)];
        foreach (PeerId peer in ready)
            _peers.Remove(peer);
        if (_peers.Count >= capacity)
            _peers.Remove(_peers.MinBy(p => p.Value.NotBefore).Key);
    }
}
