using Echo.Net.Identity;

namespace Echo.Net.ResourceManager;

/// <summary>
/// One connection's part of a <see cref="MemoryBudget"/>: what it reserved, counted against its own
/// share, its peer's share and the process-wide limit. Disposing it gives everything back; later
/// reservations fail.
/// </summary>
internal sealed class MemoryBudgetScope : IDisposable
{
    private readonly MemoryBudget _budget;

    internal MemoryBudgetScope(MemoryBudget budget, PeerId peer)
    {
        _budget = budget;
        Peer = peer;
    }

    public PeerId Peer { get; }

    /// <summary>What each connection may use without reserving (the budget's floor).</summary>
    public long FloorBytes => _budget.ConnectionFloorBytes;

    /// <summary>Bytes this connection holds in the budget now.</summary>
    public long InUseBytes => _budget.InUse(this);

    // guarded by the budget's lock
    internal long InUseLocked;
    internal bool ClosedLocked;

    /// <summary>Reserves <paramref name="bytes"/> if the connection's share, the peer's share and the limit allow it.</summary>
    public bool TryReserve(long bytes) => bytes == 0 || _budget.TryReserve(this, bytes);

    /// <summary>Gives <paramref name="bytes"/> back.</summary>
    public void Release(long bytes)
    {
        if (bytes > 0)
            _budget.Release(this, bytes);
    }

    /// <summary>Gives everything back; the scope reserves nothing more.</summary>
    public void Dispose() => _budget.Close(this);
}
