using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.ResourceManager;

namespace Echo.Net.Kad;

/// <summary>What <see cref="KadProviderStore.Add"/> did with a record.</summary>
internal enum ProviderAddResult
{
    Stored,
    Refreshed,
    RefusedPeerLimit,
    RefusedTotalLimit,
    RefusedKeyFull,
}

/// <summary>
/// Provider records a server keeps: per key the peers that said they provide it, with their
/// addresses, each valid for <see cref="KadOptions.ProviderValidity"/> from its last ADD_PROVIDER.
/// Bounded in all and per provider peer by the host's <see cref="ProviderRecordScope"/> (each record
/// is reserved there before it is stored and released when it goes) and per key by
/// <see cref="ResourceLimits.MaxProvidersPerKey"/>; a record past a bound is refused and counted, the
/// stored ones stay. Expired records are dropped when read and by <see cref="Sweep"/>. Thread-safe.
/// </summary>
internal sealed class KadProviderStore(ProviderRecordScope scope, KadOptions options, TimeProvider time)
{
    private sealed record Record(IReadOnlyList<Multiaddr> Addresses, DateTimeOffset Expires);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Dictionary<PeerId, Record>> _byKey = new(StringComparer.Ordinal);
    private int _count;

    /// <summary>Records held now (expired ones included until swept).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _count;
        }
    }

    public ProviderAddResult Add(ReadOnlySpan<byte> key, PeerId provider, IReadOnlyList<Multiaddr> addresses)
    {
        string name = Convert.ToHexString(key);
        DateTimeOffset expires = time.GetUtcNow() + options.ProviderValidity;
        lock (_gate)
        {
            if (_byKey.TryGetValue(name, out Dictionary<PeerId, Record>? providers) && providers.ContainsKey(provider))
            {
                providers[provider] = new Record(addresses, expires);
                return ProviderAddResult.Refreshed;
            }
            if (scope.IsFull)
                SweepLocked();
            if (providers is not null && providers.Count >= scope.Limits.MaxProvidersPerKey)
            {
                RemoveExpired(name, providers, time.GetUtcNow());
                if (providers.Count >= scope.Limits.MaxProvidersPerKey)
                {
                    scope.CountKeyFull();
                    return ProviderAddResult.RefusedKeyFull;
                }
            }
            if (!scope.TryReserve(provider, out LimitKind refusal))
                return refusal == LimitKind.ProviderRecords ? ProviderAddResult.RefusedTotalLimit : ProviderAddResult.RefusedPeerLimit;
            if (!_byKey.TryGetValue(name, out providers))
                _byKey[name] = providers = [];
            providers[provider] = new Record(addresses, expires);
            _count++;
            return ProviderAddResult.Stored;
        }
    }

    /// <summary>The providers of <paramref name="key"/> whose records are still valid, at most <see cref="ResourceLimits.MaxProvidersPerKey"/>.</summary>
    public List<KadPeer> Get(ReadOnlySpan<byte> key)
    {
        string name = Convert.ToHexString(key);
        lock (_gate)
        {
            if (!_byKey.TryGetValue(name, out Dictionary<PeerId, Record>? providers))
                return [];
            RemoveExpired(name, providers, time.GetUtcNow());
            return [.. providers.Select(p => new KadPeer(p.Key, p.Value.Addresses))];
        }
    }

    /// <summary>Drops every expired record.</summary>
    public void Sweep()
    {
        lock (_gate)
            SweepLocked();
    }

    /// <summary>Drops every record and gives them back to the scope (the DHT stops).</summary>
    public void Clear()
    {
        lock (_gate)
        {
            foreach (Dictionary<PeerId, Record> providers in _byKey.Values)
            {
                foreach (PeerId provider in providers.Keys)
                    scope.Release(provider);
            }
            _byKey.Clear();
            _count = 0;
        }
    }

    private void SweepLocked()
    {
        DateTimeOffset now = time.GetUtcNow();
        foreach ((string name, Dictionary<PeerId, Record> providers) in _byKey.ToList())
            RemoveExpired(name, providers, now);
    }

    private void RemoveExpired(string name, Dictionary<PeerId, Record> providers, DateTimeOffset now)
    {
        foreach (PeerId gone in providers.Where(p => p.Value.Expires <= now).Select(p => p.Key).ToList())
        {
            providers.Remove(gone);
            _count--;
            scope.Release(gone);
        }
        if (providers.Count == 0)
            _byKey.Remove(name);
    }
}
