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
}
