namespace Echo.Net.Threading;

/// <summary>
/// Tasks a component of the libp2p stack starts and does not await at once (stream handlers, dials,
/// write loops, delayed answers): kept until they end, so the owner's DisposeAsync can wait for what
/// is still running instead of leaving it behind. The chat layers have their own copy in Echo.Core,
/// since Echo.Net references nothing.
/// </summary>
internal sealed class BackgroundTasks
{
    private readonly Lock _gate = new();
    private HashSet<Task>? _running;   // null while none runs: every connection has a tracker, most run nothing

    /// <summary>How many tracked tasks are still running.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _running?.Count ?? 0;
        }
    }

    /// <summary>Keeps <paramref name="task"/> until it completes.</summary>
    public void Track(Task task)
    {
        ArgumentNullException.ThrowIfNull(task);
        lock (_gate)
        {
            if (task.IsCompleted)
                return;
            (_running ??= []).Add(task);
        }
        task.ContinueWith(t =>
        {
            lock (_gate)
            {
                if (_running?.Remove(t) == true && _running.Count == 0)
                    _running = null;
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>The tasks still running now.</summary>
    public Task[] Snapshot()
    {
        lock (_gate)
            return _running is null ? [] : [.. _running];
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for every task tracked so far (failures are the tasks'
    /// own to log). Returns false when some were still running at the deadline.
    /// </summary>
    public async Task<bool> DrainAsync(TimeSpan timeout)
    {
        Task all = Task.WhenAll(Snapshot());
        await all.WaitAsync(timeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return all.IsCompleted;
    }
}
