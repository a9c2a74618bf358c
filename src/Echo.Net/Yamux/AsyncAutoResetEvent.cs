using System.Threading.Tasks.Sources;

namespace Echo.Net.Yamux;

/// <summary>
/// A wake-up signal for one waiting loop, reused for every wait (no allocation per wake-up).
/// <see cref="Set"/> may come from any thread; a set with nobody waiting is remembered once.
/// </summary>
internal sealed class AsyncAutoResetEvent : IValueTaskSource
{
    private readonly Lock _sync = new();
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private bool _signaled;
    private bool _waiting;

    public void Set()
    {
        lock (_sync)
        {
            if (!_waiting)
            {
                _signaled = true;
                return;
            }
            _waiting = false;
        }
        _core.SetResult(true);
    }

    /// <summary>Completes at the next <see cref="Set"/> (or at once if one is pending). One waiter at a time.</summary>
    public ValueTask WaitAsync()
    {
        lock (_sync)
        {
            if (_signaled)
            {
                _signaled = false;
                return ValueTask.CompletedTask;
            }
            if (_waiting)
                throw new InvalidOperationException("only one waiter is supported");
            _core.Reset();
            _waiting = true;
            return new ValueTask(this, _core.Version);
        }
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token,
        ValueTaskSourceOnCompletedFlags flags) => _core.OnCompleted(continuation, state, token, flags);
}
