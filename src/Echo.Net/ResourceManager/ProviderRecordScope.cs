using Echo.Net.Identity;

namespace Echo.Net.ResourceManager;

/// <summary>
/// The DHT provider records a host holds, as a resource-manager scope: a record is reserved here
/// (against <see cref="ResourceLimits.MaxProviderRecords"/> in all and
/// <see cref="ResourceLimits.MaxProviderRecordsPerPeer"/> for its provider) before it is stored, and
/// released when it expires or is dropped. Each refusal is counted in the host's resources under its
/// limit (<see cref="LimitKind.ProviderRecords"/>, <see cref="LimitKind.ProviderRecordsPerPeer"/>,
/// <see cref="LimitKind.ProvidersPerKey"/>, the last reported by the store that keeps the keys), so
/// <c>/stats</c> shows what is held and what was refused. Thread-safe; one lock, a leaf.
/// </summary>
public sealed class ProviderRecordScope
{
    private readonly HostResources _owner;
    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, int> _perPeer = [];    // guarded by _gate
    private int _held;                                          // guarded by _gate

    internal ProviderRecordScope(HostResources owner, ResourceLimits limits)
    {
        _owner = owner;
        Limits = limits;
    }

    /// <summary>The limits (the three provider-record ones apply here).</summary>
    public ResourceLimits Limits { get; }

    /// <summary>Provider records held now.</summary>
    public int Held
    {
        get
        {
            lock (_gate)
                return _held;
        }
    }

    /// <summary>Records of <paramref name="provider"/> held now.</summary>
    public int HeldFor(PeerId provider)
    {
        lock (_gate)
            return _perPeer.GetValueOrDefault(provider);
    }

    /// <summary>
    /// Reserves one record of <paramref name="provider"/>; false, with the refusing limit in
    /// <paramref name="refusal"/> and counted, when the total or the provider's share is used up.
    /// </summary>
    public bool TryReserve(PeerId provider, out LimitKind refusal)
    {
        lock (_gate)
        {
            if (_held >= Limits.MaxProviderRecords)
                refusal = LimitKind.ProviderRecords;
            else if (_perPeer.GetValueOrDefault(provider) >= Limits.MaxProviderRecordsPerPeer)
                refusal = LimitKind.ProviderRecordsPerPeer;
            else
            {
                _held++;
                _perPeer[provider] = _perPeer.GetValueOrDefault(provider) + 1;
                refusal = default;
                return true;
            }
        }
        _owner.CountRefusal(refusal);
        return false;
    }

    /// <summary>Whether a reservation for <paramref name="provider"/> would fail on the total (not counted): the store may sweep first.</summary>
    public bool IsFull
    {
        get
        {
            lock (_gate)
                return _held >= Limits.MaxProviderRecords;
        }
    }

    /// <summary>Gives back one record of <paramref name="provider"/>.</summary>
    public void Release(PeerId provider)
    {
        lock (_gate)
        {
            if (!_perPeer.TryGetValue(provider, out int count))
                return;
            _held--;
            if (count <= 1)
                _perPeer.Remove(provider);
            else
                _perPeer[provider] = count - 1;
        }
    }

    /// <summary>Counts a record refused because its key has <see cref="ResourceLimits.MaxProvidersPerKey"/> providers.</summary>
    public void CountKeyFull() => _owner.CountRefusal(LimitKind.ProvidersPerKey);
}
