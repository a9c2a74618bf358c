using Microsoft.Extensions.Logging;

namespace Echo.Web;

internal static partial class Log
{
    [LoggerMessage(EventId = 3700, Level = LogLevel.Information, Message = "Web UI listening on {Address}")]
    public static partial void Listening(ILogger logger, string address);

    [LoggerMessage(EventId = 3701, Level = LogLevel.Warning,
        Message = "Web UI listens on {Address}, which other machines can reach: anyone with its URL can use this chat")]
    public static partial void RemoteAccess(ILogger logger, string address);

    [LoggerMessage(EventId = 3702, Level = LogLevel.Debug, Message = "Web request refused ({Status}): {Reason}")]
    public static partial void Refused(ILogger logger, int status, string reason);

    [LoggerMessage(EventId = 3703, Level = LogLevel.Information, Message = "Web session started from {Remote}")]
    public static partial void SessionStarted(ILogger logger, string remote);

    [LoggerMessage(EventId = 3704, Level = LogLevel.Debug, Message = "WebSocket opened from {Remote}")]
    public static partial void SocketOpened(ILogger logger, string remote);

    [LoggerMessage(EventId = 3705, Level = LogLevel.Debug, Message = "WebSocket closed from {Remote}")]
    public static partial void SocketClosed(ILogger logger, string remote);

    [LoggerMessage(EventId = 3706, Level = LogLevel.Debug, Message = "Malformed request from a page: {Reason}")]
    public static partial void BadRequest(ILogger logger, string reason);

    [LoggerMessage(EventId = 3707, Level = LogLevel.Information, Message = "Web UI stopped")]
    public static partial void Stopped(ILogger logger);
}
