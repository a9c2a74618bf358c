namespace Echo.Protocols.EchoGo;

/// <summary>
/// One echo-go peer's open streams and the choice of the one lines go to: the newest one the peer
/// opened that is still open, else the newest one we opened once it has settled. A stream the peer
/// closed (or that failed) is removed and never chosen again. Thread-safe.
/// </summary>
internal sealed class EchoGoStreamSet
{
    private readonly Lock _gate = new();
    private readonly List<EchoGoStream> _streams = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>How many are open, and which kind lines go to (null: none yet).</summary>
    public (int Open, bool? SendsOnOutbound, bool HasInbound, bool HasOutbound) Describe()
    {
        lock (_gate)
        {
            EchoGoStream? target = TargetLocked(long.MaxValue);
            return (_streams.Count, target?.Outbound, _streams.Any(s => !s.Outbound), _streams.Any(s => s.Outbound));
        }
    }

    /// <summary>A new open stream; returns true when both kinds are now open (the two opens crossed).</summary>
    public bool Add(EchoGoStream stream)
    {
        lock (_gate)
        {
            _streams.Add(stream);
            SignalLocked();
            return _streams.Any(s => s.Outbound) && _streams.Any(s => !s.Outbound);
        }
    }

    /// <summary>The stream was closed by the peer or failed; returns how many remain open.</summary>
    public int Remove(EchoGoStream stream)
    {
        lock (_gate)
        {
            if (_streams.Remove(stream))
                SignalLocked();
            return _streams.Count;
        }
    }

    /// <summary>
    /// The stream to write to at <paramref name="now"/> (a <see cref="TimeProvider"/> timestamp), or
    /// null; then <paramref name="changed"/> completes when a stream is added or removed, and
    /// <paramref name="settles"/> says when the first of ours becomes usable (null: none of ours).
    /// </summary>
    public EchoGoStream? Target(long now, out Task changed, out long? settles)
    {
        lock (_gate)
        {
            changed = _changed.Task;
            EchoGoStream? target = TargetLocked(now);
            settles = target is null && _streams.Count > 0 ? _streams.Min(s => s.UsableAt) : null;
            return target;
        }
    }

    private EchoGoStream? TargetLocked(long now)
    {
        for (int i = _streams.Count - 1; i >= 0; i--)
        {
            if (!_streams[i].Outbound)
                return _streams[i];
        }
        for (int i = _streams.Count - 1; i >= 0; i--)
        {
            if (_streams[i].UsableAt <= now)
                return _streams[i];
        }
        return null;
    }

    private void SignalLocked()
    {
        _changed.TrySetResult();
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
