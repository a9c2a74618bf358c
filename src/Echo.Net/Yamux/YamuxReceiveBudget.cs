namespace Echo.Net.Yamux;

/// <summary>
/// Receive memory one connection has committed to its streams' windows. Each stream reserves its
/// whole window (256 KiB at open, more when auto-tuned) because that is what the peer may send
/// without asking; a reservation that would pass <see cref="Limit"/> fails, and the caller refuses the
/// stream or keeps the window as it is. Growth may take at most half the limit in total, so a few bulk
/// transfers with large windows never leave the connection unable to accept new streams.
/// </summary>
/// <remarks>Thread-safe; its lock is a leaf (callers may hold their own locks, nothing is taken under it).</remarks>
internal sealed class YamuxReceiveBudget
{
    private readonly Lock _lock = new();
    private long _reserved;   // guarded by _lock
    private long _grown;      // guarded by _lock

    public YamuxReceiveBudget(long limit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, YamuxOptions.InitialWindow);
        Limit = limit;
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

    /// <summary>Reserves a new stream's initial window; false when it would pass the limit.</summary>
    public bool TryReserveStream()
    {
        lock (_lock)
        {
            if (_reserved + YamuxOptions.InitialWindow > Limit)
                return false;
            _reserved += YamuxOptions.InitialWindow;
            return true;
        }
    }

    /// <summary>Reserves <paramref name="bytes"/> of window growth; false when past the limit or past half of it for growth.</summary>
    public bool TryGrow(long bytes)
    {
        lock (_lock)
        {
            if (_reserved + bytes > Limit || _grown + bytes > Limit / 2)
                return false;
            _reserved += bytes;
            _grown += bytes;
            return true;
        }
    }

    /// <summary>A stream whose window was <paramref name="window"/> bytes has gone: frees all of it.</summary>
    public void Release(uint window)
    {
        lock (_lock)
        {
            _reserved -= window;
            _grown -= window - YamuxOptions.InitialWindow;
        }
    }
}
