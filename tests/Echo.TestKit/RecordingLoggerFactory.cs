using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.TestKit;

/// <summary>
/// Keeps every log event at or above a level, so a test can wait for what a host only logs
/// ("identify of X failed", "stream rejected") instead of guessing when it has happened.
/// </summary>
public sealed class RecordingLoggerFactory(LogLevel minimum = LogLevel.Debug) : ILoggerFactory
{
    public sealed record Entry(string Category, int EventId, LogLevel Level, string Message,
        IReadOnlyList<KeyValuePair<string, object?>> Values, Exception? Exception = null)
    {
        public object? this[string name] => Values.FirstOrDefault(v => v.Key == name).Value;

        public bool IsAbout(PeerId peer) => Equals(this["Peer"], peer);

        public override string ToString() => $"{EventId} {Message}";
    }

    private readonly Lock _gate = new();
    private readonly List<Entry> _entries = [];
    private readonly List<Waiter> _waiters = [];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public int Count(Func<Entry, bool> match)
    {
        lock (_gate)
            return _entries.Count(match);
    }

    public IReadOnlyList<Entry> Where(Func<Entry, bool> match)
    {
        lock (_gate)
            return [.. _entries.Where(match)];
    }

    /// <summary>The first entry, already logged or still to come, that matches; bounded by <paramref name="timeout"/> (30 s) and the test.</summary>
    public Task<Entry> WaitForAsync(Func<Entry, bool> match, TimeSpan? timeout = null) => WaitForAsync(match, 1, timeout);

    /// <summary>The <paramref name="count"/>-th matching entry, counting those already logged.</summary>
    public Task<Entry> WaitForAsync(Func<Entry, bool> match, int count, TimeSpan? timeout = null)
    {
        Waiter waiter;
        lock (_gate)
        {
            List<Entry> found = [.. _entries.Where(match)];
            if (found.Count >= count)
                return Task.FromResult(found[count - 1]);
            waiter = new Waiter(match, count - found.Count);
            _waiters.Add(waiter);
        }
        return waiter.Found.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }

    private void Add(Entry entry)
    {
        List<Waiter> woken = [];
        lock (_gate)
        {
            _entries.Add(entry);
            foreach (Waiter waiter in _waiters)
                if (waiter.Match(entry) && --waiter.Remaining == 0)
                    woken.Add(waiter);
            _waiters.RemoveAll(woken.Contains);
        }
        foreach (Waiter waiter in woken)
            waiter.Found.TrySetResult(entry);
    }

    private sealed class Waiter(Func<Entry, bool> match, int remaining)
    {
        public Func<Entry, bool> Match { get; } = match;
        public int Remaining { get; set; } = remaining;
        public TaskCompletionSource<Entry> Found { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Logger(RecordingLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner.Minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            owner.Add(new Entry(category, eventId.Id, logLevel, formatter(state, exception),
                state as IReadOnlyList<KeyValuePair<string, object?>> ?? [], exception));
        }
    }

    private LogLevel Minimum { get; } = minimum;
}
