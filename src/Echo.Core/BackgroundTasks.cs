namespace Echo.Core;

/// <summary>
/// Tasks a component starts and does not await at once (pumps, sends, pings): kept until they end,
/// so its DisposeAsync can wait for what is still running instead of leaving it behind.
/// </summary>
public sealed class BackgroundTasks
{
    private readonly Lock _gate = new();
    private readonly HashSet<Task> _running = [];

    /// <summary>Keeps <paramref name="task"/> until it completes.</summary>
    public void Track(Task task)
    {
        lock (_gate)
        {
            if (task.IsCompleted)
                return;
            _running.Add(task);
        }
        task.ContinueWith(t =>
        {
            lock (_gate)
                _running.Remove(t);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>The tasks still running now.</summary>
    public Task[] Snapshot()
    {
        lock (_gate)
            return [.. _running];
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
