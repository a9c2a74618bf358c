namespace Echo.Protocols;

/// <summary>
/// Cancels a served stream's work when it makes no progress for a while (docs/LIMITS.md,
/// L-served-idle): <see cref="Token"/> is cancelled <c>timeout</c> after the last
/// <see cref="Progress"/>, or when the outer token is.
/// </summary>
internal sealed class IdleWatchdog : IDisposable
{
    private readonly TimeSpan _timeout;
    private readonly CancellationToken _outer;
    private readonly CancellationTokenSource _idle;
    private readonly CancellationTokenRegistration _registration;

    public IdleWatchdog(TimeSpan timeout, TimeProvider time, CancellationToken outer)
    {
        _timeout = timeout;
        _outer = outer;
        _idle = new CancellationTokenSource(timeout, time);
        _registration = outer.UnsafeRegister(static state => ((CancellationTokenSource)state!).Cancel(), _idle);
    }

    /// <summary>Cancelled when the stream idled out or the outer token was cancelled.</summary>
    public CancellationToken Token => _idle.Token;

    /// <summary>True when <see cref="Token"/> was cancelled by idleness, not by the outer token.</summary>
    public bool IdledOut => _idle.IsCancellationRequested && !_outer.IsCancellationRequested;

    /// <summary>The stream moved: the timeout starts again.</summary>
    public void Progress()
    {
        if (!_idle.IsCancellationRequested)
            _idle.CancelAfter(_timeout);
    }

    public void Dispose()
    {
        _registration.Dispose();
        _idle.Dispose();
    }
}
