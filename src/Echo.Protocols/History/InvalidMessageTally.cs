using Echo.Net.Identity;

namespace Echo.Protocols.History;

/// <summary>
/// Counts, per peer, the messages of its history answers that failed verification, and says when a
/// peer has sent so many that it is no longer synced from (for the rest of the session). Bounded:
/// at most <see cref="MaxTracked"/> peers; when full, peers still under the cut-off make room first,
/// and a new peer that finds no room is not counted. Thread-safe.
/// </summary>
internal sealed class InvalidMessageTally(int cutOff)
{
    /// <summary>Peers tracked at most (L-history-invalid).</summary>
    public const int MaxTracked = 4096;

    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, int> _counts = [];

    /// <summary>Peers tracked now.</summary>
    public int Tracked
    {
        get
        {
            lock (_gate)
                return _counts.Count;
        }
    }

    /// <summary>How many of <paramref name="peer"/>'s messages failed.</summary>
    public int Count(PeerId peer)
    {
        lock (_gate)
            return _counts.GetValueOrDefault(peer);
    }

    /// <summary>True once <paramref name="peer"/> reached the cut-off: we no longer sync from it.</summary>
    public bool IsCutOff(PeerId peer) => Count(peer) >= cutOff;

    /// <summary>Counts one failed message of <paramref name="peer"/>; returns its count now.</summary>
    public int Record(PeerId peer)
    {
        lock (_gate)
        {
            if (!_counts.TryGetValue(peer, out int count) && _counts.Count >= MaxTracked && !MakeRoomLocked())
                return 0;
            _counts[peer] = ++count;
            return count;
        }
    }

    private bool MakeRoomLocked()
    {
        foreach (PeerId below in _counts.Where(p => p.Value < cutOff).Select(p => p.Key).Take(MaxTracked / 4).ToList())
            _counts.Remove(below);
        return _counts.Count < MaxTracked;
    }
}
