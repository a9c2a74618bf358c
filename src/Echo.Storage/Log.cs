using Microsoft.Extensions.Logging;

namespace Echo.Storage;

/// <summary>Source-generated log messages of the history store, EventIds 3300-3399.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3300, Level = LogLevel.Warning, Message = "History database {Path} unusable: {Reason}")]
    public static partial void Unusable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 3301, Level = LogLevel.Warning, Message = "History database {Path} failed: {Reason}")]
    public static partial void Failed(ILogger logger, string path, string reason);
}
