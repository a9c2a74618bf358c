using Microsoft.Extensions.Logging;

namespace Echo.Cli;

/// <summary>--log-level: how much the log says.</summary>
internal sealed partial record ChatSettings
{
    /// <summary>The names --log-level accepts, least to most severe.</summary>
    public const string LogLevelNames = "trace, debug, information, warning, error";

    /// <summary>The least severe level written to the log (--log-level; default Information).</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>Applies --log-level (one of <see cref="LogLevelNames"/>, any case); throws <see cref="ArgumentException"/> on another value.</summary>
    public ChatSettings WithLogLevel(string? level)
    {
        if (level is null)
            return this;
        LogLevel parsed = level.Trim().ToUpperInvariant() switch
        {
            "TRACE" => LogLevel.Trace,
            "DEBUG" => LogLevel.Debug,
            "INFORMATION" or "INFO" => LogLevel.Information,
            "WARNING" or "WARN" => LogLevel.Warning,
            "ERROR" => LogLevel.Error,
            _ => throw new ArgumentException($"--log-level {level}: not one of {LogLevelNames}"),
        };
        return this with { LogLevel = parsed };
    }
}
