using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Echo.Interop.Tests;

/// <summary>Keeps the debug log of one node in memory, to quote when a test about it fails.</summary>
internal sealed class RunLog : ILoggerFactory, ILogger
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        _lines.Enqueue($"{_clock.ElapsedMilliseconds,6} ms {eventId.Id} {formatter(state, exception)}");
        while (_lines.Count > 200)
            _lines.TryDequeue(out _);
    }

    /// <summary>The lines logged so far, oldest first.</summary>
    public override string ToString() => string.Join(Environment.NewLine, _lines);

    public void Dispose()
    {
    }
}
