using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Mdns;

/// <summary>
/// The peers mDNS told us about, each address until its record's TTL runs out. Bounded: at most
/// <c>maxPeers</c> peers with <c>maxAddressesPerPeer</c> addresses each; a new peer in a full table
/// takes the place of the one whose records expire first, and an address beyond the limit replaces
/// the one expiring first. Not thread-safe: the owner locks.
/// </summary>
public sealed class MdnsPeerTable(int maxPeers, int maxAddressesPerPeer, TimeSpan maxTtl)
{
    private readonly Dictionary<PeerId, Dictionary<Multiaddr, DateTimeOffset>> _peers = [];

    /// <summary>No address expires before this: <see cref="Expire"/> has nothing to do until then.</summary>
    private DateTimeOffset _nextExpiry = DateTimeOffset.MaxValue;

    public int Count => _peers.Count;

    /// <summary>How many peers a full table has forgotten to make room for new ones, since it was made.</summary>
    public long Evicted { get; private set; }

    /// <summary>
    /// Records <paramref name="addresses"/> of <paramref name="peer"/> for <paramref name="ttl"/>
    /// (capped); a zero TTL forgets them. Returns true when something new was learned (a new peer
    /// or a new address), false for a refresh.
    /// </summary>
    public bool Update(PeerId peer, IReadOnlyList<Multiaddr> addresses, TimeSpan ttl, DateTimeOffset now)
    {
        Expire(now);
        if (ttl <= TimeSpan.Zero)
        {
            if (_peers.TryGetValue(peer, out Dictionary<Multiaddr, DateTimeOffset>? known))
            {
                foreach (Multiaddr address in addresses)
                    known.Remove(address);
                if (known.Count == 0 || addresses.Count == 0)
                    _peers.Remove(peer);
            }
            return false;
        }
        if (addresses.Count == 0)
            return false;
        DateTimeOffset expiry = now + (ttl < maxTtl ? ttl : maxTtl);
        bool learned = false;
        if (!_peers.TryGetValue(peer, out Dictionary<Multiaddr, DateTimeOffset>? entry))
        {
            if (_peers.Count >= maxPeers)
            {
                _peers.Remove(ExpiringFirst());
                Evicted++;
            }
            entry = [];
            _peers[peer] = entry;
            learned = true;
        }
        foreach (Multiaddr address in addresses)
        {
            if (!entry.ContainsKey(address))
            {
                if (entry.Count >= maxAddressesPerPeer)
                    entry.Remove(entry.MinBy(a => a.Value).Key);
                learned = true;
            }
            entry[address] = expiry;
        }
        if (expiry < _nextExpiry)
            _nextExpiry = expiry;
        return learned;
    }

    /// <summary>The peer whose last address expires first.</summary>
    private PeerId ExpiringFirst()
    {
        PeerId? first = null;
        DateTimeOffset firstEnd = DateTimeOffset.MaxValue;
        foreach ((PeerId peer, Dictionary<Multiaddr, DateTimeOffset> entry) in _peers)
        {
            DateTimeOffset end = DateTimeOffset.MinValue;
            foreach (DateTimeOffset expiry in entry.Values)
                end = expiry > end ? expiry : end;
            if (first is null || end < firstEnd)
                (first, firstEnd) = (peer, end);
        }
        return first!;
    }

    /// <summary>The unexpired addresses of <paramref name="peer"/>, the longest-lived first.</summary>
    public IReadOnlyList<Multiaddr> Addresses(PeerId peer, DateTimeOffset now) =>
        _peers.TryGetValue(peer, out Dictionary<Multiaddr, DateTimeOffset>? entry)
            ? [.. entry.Where(a => a.Value > now).OrderByDescending(a => a.Value).Select(a => a.Key)]
            : [];

    /// <summary>Drops every address whose TTL ran out, and peers left without any.</summary>
    public void Expire(DateTimeOffset now)
    {
        if (now < _nextExpiry)
            return;
        _nextExpiry = DateTimeOffset.MaxValue;
        List<PeerId>? empty = null;
        foreach ((PeerId peer, Dictionary<Multiaddr, DateTimeOffset> entry) in _peers)
        {
            foreach (Multiaddr address in entry.Where(a => a.Value <= now).Select(a => a.Key).ToList())
                entry.Remove(address);
            foreach (DateTimeOffset expiry in entry.Values)
                _nextExpiry = expiry < _nextExpiry ? expiry : _nextExpiry;
            if (entry.Count == 0)
                (empty ??= []).Add(peer);
        }
        if (empty is not null)
        {
            foreach (PeerId peer in empty)
                _peers.Remove(peer);
        }
    }
}
