using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Kad;

/// <summary>
/// The k-buckets: DHT servers by the length of the prefix their key shares with ours (bucket i holds
/// peers whose sha256(peer id) first differs from ours at bit i), at most k each, least recently seen
/// first. A full bucket makes room only by dropping its least recently seen peer that is stale (no
/// connection now); otherwise the newcomer is refused, as Kademlia prefers peers that stayed.
/// Thread-safe.
/// </summary>
internal sealed class KadRoutingTable
{
    private sealed class Entry(PeerId peer, KadKey key, IReadOnlyList<Multiaddr> addresses, long seen)
    {
        public PeerId Peer { get; } = peer;
        public KadKey Key { get; } = key;
        public IReadOnlyList<Multiaddr> Addresses { get; set; } = addresses;
        public long LastSeen { get; set; } = seen;
    }

    private readonly Lock _gate = new();
    private readonly List<Entry>[] _buckets = new List<Entry>[256];
    private readonly Dictionary<PeerId, Entry> _entries = [];
    private readonly KadKey _self;
    private readonly int _bucketSize;
    private readonly TimeProvider _time;

    public KadRoutingTable(PeerId self, int bucketSize, TimeProvider time)
    {
        _self = KadKey.Of(self.Bytes);
        Self = self;
        _bucketSize = bucketSize;
        _time = time;
        for (int i = 0; i < _buckets.Length; i++)
            _buckets[i] = [];
    }

    public PeerId Self { get; }

    public KadKey SelfKey => _self;

    public int Count
    {
        get
        {
            lock (_gate)
                return _entries.Count;
        }
    }

    public bool Contains(PeerId peer)
    {
        lock (_gate)
            return _entries.ContainsKey(peer);
    }

    /// <summary>
    /// Adds <paramref name="peer"/> or marks it seen (and replaces its addresses when some are given).
    /// In a full bucket, the least recently seen peer for which <paramref name="isStale"/> holds is
    /// dropped for it; when none is stale the newcomer is refused. True when the peer is in the table.
    /// </summary>
    public bool AddOrSeen(PeerId peer, IReadOnlyList<Multiaddr> addresses, Func<PeerId, bool> isStale)
    {
        if (peer == Self)
            return false;
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_entries.TryGetValue(peer, out Entry? known))
            {
                known.LastSeen = now;
                if (addresses.Count > 0)
                    known.Addresses = addresses;
                List<Entry> own = _buckets[Index(known.Key)];
                own.Remove(known);
                own.Add(known);
                return true;
            }
            KadKey key = KadKey.Of(peer.Bytes);
            List<Entry> bucket = _buckets[Index(key)];
            if (bucket.Count >= _bucketSize)
            {
                Entry? stale = bucket.FirstOrDefault(e => isStale(e.Peer));
                if (stale is null)
                    return false;
                bucket.Remove(stale);
                _entries.Remove(stale.Peer);
            }
            Entry entry = new(peer, key, addresses, now);
            bucket.Add(entry);
            _entries[peer] = entry;
            return true;
        }
    }

    public bool Remove(PeerId peer)
    {
        lock (_gate)
        {
            if (!_entries.Remove(peer, out Entry? entry))
                return false;
            _buckets[Index(entry.Key)].Remove(entry);
            return true;
        }
    }

    public IReadOnlyList<Multiaddr> AddressesOf(PeerId peer)
    {
        lock (_gate)
            return _entries.TryGetValue(peer, out Entry? entry) ? entry.Addresses : [];
    }

    /// <summary>The <paramref name="count"/> peers closest to <paramref name="target"/>, closest first, without <paramref name="exclude"/>.</summary>
    public List<KadPeer> Closest(KadKey target, int count, PeerId? exclude = null)
    {
        lock (_gate)
        {
            return [.. _entries.Values
                .Where(e => e.Peer != exclude)
                .Order(Comparer<Entry>.Create((l, r) => target.CompareDistance(l.Key, r.Key)))
                .Take(count)
                .Select(e => new KadPeer(e.Peer, e.Addresses))];
        }
    }

    /// <summary>The indexes of the buckets that hold peers.</summary>
    public List<int> NonEmptyBuckets()
    {
        lock (_gate)
            return [.. Enumerable.Range(0, _buckets.Length).Where(i => _buckets[i].Count > 0)];
    }

    /// <summary>Every peer with its addresses, most recently seen first.</summary>
    public List<KadPeer> Snapshot()
    {
        lock (_gate)
            return [.. _entries.Values.OrderByDescending(e => e.LastSeen).Select(e => new KadPeer(e.Peer, e.Addresses))];
    }

    private int Index(KadKey key) => Math.Min(_self.CommonPrefixLength(key), 255);
}
