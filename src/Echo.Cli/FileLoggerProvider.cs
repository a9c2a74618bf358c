using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Echo.Cli;

/// <summary>
/// Appends log lines to a file from one background writer, so logging never blocks the chat and
/// nothing reaches the terminal the TUI owns.
/// </summary>
internal sealed class FileLoggerProvider : ILoggerProvider, IAsyncDisposable
{
    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(10_000)
    {
        FullMode = BoundedChannelFullMode.DropOldest,
        SingleReader = true,
    });
    private readonly ConcurrentDictionary<string, FileLogger> _loggers = new();
    private readonly StreamWriter _file;
    private readonly Task _writer;

    private FileLoggerProvider(FileStream file)
    {
        _file = new StreamWriter(file);
        _writer = WriteAsync();
    }

    /// <summary>Appends to <paramref name="path"/>, created 0600 (an existing one is made private too).</summary>
    /// <exception cref="StartupException">The file cannot be created or written.</exception>
    public static FileLoggerProvider Open(string path)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            PrivateFiles.Tighten(path);
            return new FileLoggerProvider(new FileStream(path, PrivateFiles.AppendOptions()));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"cannot write log file {path}: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, name => new FileLogger(name, this));

    private void Post(string line) => _lines.Writer.TryWrite(line);

    private async Task WriteAsync()
    {
        await using (_file.ConfigureAwait(false))
        {
            await foreach (string line in _lines.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                await _file.WriteLineAsync(line).ConfigureAwait(false);
                if (_lines.Reader.Count == 0)
                    await _file.FlushAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Stops taking lines; <see cref="DisposeAsync"/> waits until the file has them all.</summary>
    public void Dispose() => _lines.Writer.TryComplete();

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    private sealed class FileLogger(string category, FileLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
                return;
            string line = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {Level(logLevel)} {category}[{eventId.Id}] {formatter(state, exception)}");
            provider.Post(exception is null ? line : line + Environment.NewLine + exception);
        }

        private static string Level(LogLevel level) => level switch
        {
            LogLevel.Trace => "trce",
            LogLevel.Debug => "dbug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warn",
            LogLevel.Error => "fail",
            _ => "crit",
        };
    }
}
