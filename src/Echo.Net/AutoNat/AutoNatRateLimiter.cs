using Echo.Net.Identity;

namespace Echo.Net.AutoNat;

/// <summary>
/// The server's throttle: at most <c>global</c> checks in any minute, and <c>perPeer</c> for one
/// peer, counted when a check is accepted (kubo: 30 and 3). Bounded memory: a queue of at most
/// <c>global</c> timestamps and, per peer, at most <c>perPeer</c>.
/// </summary>
internal sealed class AutoNatRateLimiter(int global, int perPeer, TimeProvider time)
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private readonly Queue<long> _all = new();
    private readonly Dictionary<PeerId, Queue<long>> _peers = [];

    /// <summary>Peers with an entry now (at most <see cref="AutoNatLimits.MaxRateLimitedPeers"/> while any is idle).</summary>
    public int RememberedPeers
    {
        get
        {
            lock (_gate)
                return _peers.Count;
        }
    }

    /// <summary>Counts a check for <paramref name="peer"/> and returns true, or false when a limit is reached.</summary>
    public bool TryAcquire(PeerId peer)
    {
        long now = time.GetTimestamp();
        lock (_gate)
        {
            Prune(_all, now);
            if (_all.Count >= global)
                return false;
            if (_peers.TryGetValue(peer, out Queue<long>? recent))
            {
                Prune(recent, now);
                if (recent.Count >= perPeer)
                    return false;
            }
            else
            {
                if (_peers.Count >= AutoNatLimits.MaxRateLimitedPeers)
                    ForgetIdle(now);
                recent = new Queue<long>();
                _peers[peer] = recent;
            }
            recent.Enqueue(now);
            _all.Enqueue(now);
            return true;
        }
    }

    private void Prune(Queue<long> stamps, long now)
    {
        while (stamps.Count > 0 && time.GetElapsedTime(stamps.Peek(), now) >= Window)
            stamps.Dequeue();
    }

    // A peer with no check in the last minute needs no entry. With at most `global` checks a
    // minute, at most `global` peers have one, so this always frees room.
    private void ForgetIdle(long now)
    {
        foreach (KeyValuePair<PeerId, Queue<long>> entry in _peers.ToList())
        {
            Prune(entry.Value, now);
            if (entry.Value.Count == 0)
                _peers.Remove(entry.Key);
        }
    }
}
