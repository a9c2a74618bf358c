namespace Echo.TestKit.Lab;

/// <summary>Waiting in lab tests: polling a condition that asks other processes, reading their log files.</summary>
public static class LabWait
{
    /// <summary>
    /// Polls <paramref name="condition"/> every 100 ms (or <paramref name="every"/>) until it holds; a
    /// <see cref="TimeoutException"/> naming <paramref name="what"/> after <paramref name="timeout"/>.
    /// </summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan timeout, CancellationToken cancellationToken,
        TimeSpan? every = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout > TimeSpan.Zero ? timeout : TimeSpan.Zero);
        using PeriodicTimer timer = new(every ?? TimeSpan.FromMilliseconds(100));
        try
        {
            while (!await condition().ConfigureAwait(false))
                await timer.WaitForNextTickAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"timed out waiting until {what} ({timeout.TotalSeconds:0.#} s)");
        }
    }

    /// <summary>The text of a log file another process is writing ("" while it does not exist).</summary>
    public static string ReadLog(string path)
    {
        if (!File.Exists(path))
            return "";
        using FileStream stream = new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using StreamReader reader = new(stream);
        return reader.ReadToEnd();
    }
}
