using System.Threading.Tasks.Sources;

namespace Echo.Net.Yamux;

/// <summary>
/// A wake-up signal for one waiting loop, reused for every wait (no allocation per wake-up).
/// <see cref="Set"/> may come from any thread; a set with nobody waiting is remembered once.
/// </summary>
internal sealed class AsyncAutoResetEvent : IValueTaskSource
{
    // One int instead of a lock: a session holds three of these for its whole life.
    private const int Idle = 0;
    private const int Signaled = 1;   // a set nobody waited for, remembered once
    private const int Waiting = 2;

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private int _state;

    public void Set()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if (state == Signaled)
                return;
            int next = state == Waiting ? Idle : Signaled;
            if (Interlocked.CompareExchange(ref _state, next, state) != state)
                continue;
            if (state == Waiting)
                _core.SetResult(true);
            return;
        }
    }

    /// <summary>Completes at the next <see cref="Set"/> (or at once if one is pending). One waiter at a time.</summary>
    public ValueTask WaitAsync()
    {
        int state = Interlocked.CompareExchange(ref _state, Idle, Signaled);
        if (state == Signaled)
            return ValueTask.CompletedTask;
        if (state == Waiting)
            throw new InvalidOperationException("only one waiter is supported");
        _core.Reset();   // before the wait is published: only then may a Set complete it
        state = Interlocked.CompareExchange(ref _state, Waiting, Idle);
        if (state == Signaled)
        {
            // Set in between: it counts for this wait. Only the waiter leaves Signaled, so a plain write is safe.
            Volatile.Write(ref _state, Idle);
            return ValueTask.CompletedTask;
        }
        if (state == Waiting)
            throw new InvalidOperationException("only one waiter is supported");
        return new ValueTask(this, _core.Version);
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => _core.OnCompleted(continuation, state, token, flags);
}
