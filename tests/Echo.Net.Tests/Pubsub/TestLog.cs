using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Tests.Pubsub;

/// <summary>Collects log lines in memory, so a failing test can print what the routers said.</summary>
internal sealed class TestLog : ILoggerFactory, ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly LogLevel _level;

    public TestLog(LogLevel level = LogLevel.Debug) => _level = level;

    public IReadOnlyCollection<string> Lines => _lines;

    public string Dump() => string.Join(Environment.NewLine, _lines);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName[(categoryName.LastIndexOf('.') + 1)..]);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(TestLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner._level;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                owner._lines.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {category} {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
        }
    }
}
