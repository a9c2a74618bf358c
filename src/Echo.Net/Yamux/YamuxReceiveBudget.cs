using Echo.Net.ResourceManager;

namespace Echo.Net.Yamux;

/// <summary>
/// Receive memory one connection has committed to its streams' windows. Each stream reserves its
/// whole window (256 KiB at open, more when auto-tuned) because that is what the peer may send
/// without asking; a reservation that would pass <see cref="Limit"/> fails, and the caller refuses the
/// stream or keeps the window as it is. Growth may take at most half the limit in total, so a few bulk
/// transfers with large windows never leave the connection unable to accept new streams.
/// </summary>
/// <remarks>
/// With a process-wide <see cref="MemoryBudget"/> (its scope for this connection), whatever passes the
/// connection's floor is reserved there too, before it is granted: then a reservation also fails when
/// the connection's or the peer's share, or the whole budget, is used up. What is charged there is
/// always <c>max(0, reserved - floor)</c>, and all of it goes back when the session ends.
/// Thread-safe; its lock is taken before the budget's, and nothing else is taken under either.
/// </remarks>
internal sealed class YamuxReceiveBudget
{
    private readonly Lock _lock = new();
    private readonly MemoryBudgetScope? _shared;
    private readonly long _floor;
    private long _reserved;   // guarded by _lock
    private long _grown;      // guarded by _lock
    private long _charged;    // guarded by _lock: held in the shared budget
    private bool _closed;     // guarded by _lock

    public YamuxReceiveBudget(long limit, MemoryBudgetScope? shared = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, YamuxOptions.InitialWindow);
        Limit = limit;
        _shared = shared;
        _floor = shared?.FloorBytes ?? 0;
    }

    /// <summary>Most bytes the connection's windows may add up to.</summary>
    public long Limit { get; }

    /// <summary>Bytes currently reserved by live streams' windows.</summary>
    public long Reserved
    {
        get
        {
            lock (_lock)
                return _reserved;
        }
    }

    /// <summary>Reserves a new stream's initial window; false when it would pass a limit.</summary>
    public bool TryReserveStream()
    {
        lock (_lock)
        {
            if (_reserved + YamuxOptions.InitialWindow > Limit || !TryCharge(YamuxOptions.InitialWindow))
                return false;
            _reserved += YamuxOptions.InitialWindow;
            return true;
        }
    }

    /// <summary>Reserves <paramref name="bytes"/> of window growth; false when past a limit or past half of this one for growth.</summary>
    public bool TryGrow(long bytes)
    {
        lock (_lock)
        {
            if (_reserved + bytes > Limit || _grown + bytes > Limit / 2 || !TryCharge(bytes))
                return false;
            _reserved += bytes;
            _grown += bytes;
            return true;
        }
    }

    /// <summary>A stream whose window was <paramref name="window"/> bytes has gone: frees all of it.</summary>
    public void Release(uint window)
    {
        long give = 0;
        lock (_lock)
        {
            _reserved -= window;
            _grown -= window - YamuxOptions.InitialWindow;
            if (_shared is not null && !_closed)
            {
                long charged = Math.Max(0, _reserved - _floor);
                give = _charged - charged;
                _charged = charged;
            }
        }
        _shared?.Release(give);
    }

    /// <summary>The session ended: everything held in the shared budget goes back, nothing more is reserved there.</summary>
    public void Close()
    {
        lock (_lock)
        {
            if (_closed)
                return;
            _closed = true;
            _charged = 0;
        }
        _shared?.Dispose();
    }

    // Under _lock: reserves in the shared budget what passes the floor once _reserved grows by bytes.
    private bool TryCharge(long bytes)
    {
        if (_shared is null)
            return true;
        if (_closed)
            return false;
        long need = Math.Max(0, _reserved + bytes - _floor) - _charged;
        if (need <= 0)
            return true;
        if (!_shared.TryReserve(need))
            return false;
        _charged += need;
        return true;
    }
}
