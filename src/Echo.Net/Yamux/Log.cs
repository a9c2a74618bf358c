using Microsoft.Extensions.Logging;

namespace Echo.Net.Yamux;

internal static partial class Log
{
    [LoggerMessage(EventId = 1400, Level = LogLevel.Debug, Message = "Yamux session started as {Role}")]
    public static partial void SessionStarted(ILogger logger, string role);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Debug, Message = "Yamux session ended ({Reason})")]
    public static partial void SessionEnded(ILogger logger, string reason, Exception? error);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Debug, Message = "Yamux peer broke the protocol; sending GoAway {Code}")]
    public static partial void ProtocolViolation(ILogger logger, YamuxGoAwayCode code, Exception error);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Debug, Message = "Yamux refused inbound stream {StreamId}: {Reason}")]
    public static partial void StreamRefused(ILogger logger, uint streamId, string reason);

    [LoggerMessage(EventId = 1404, Level = LogLevel.Trace, Message = "Yamux ignored a {Type} frame for unknown stream {StreamId} ({Length})")]
    public static partial void UnknownStreamFrame(ILogger logger, YamuxFrameType type, uint streamId, uint length);

    [LoggerMessage(EventId = 1405, Level = LogLevel.Debug, Message = "Yamux keep-alive ping unanswered after {TimeoutMs} ms; closing the session")]
    public static partial void KeepAliveTimeout(ILogger logger, double timeoutMs);

    [LoggerMessage(EventId = 1406, Level = LogLevel.Debug, Message = "Yamux peer sent GoAway {Code}")]
    public static partial void RemoteGoAway(ILogger logger, uint code);

    [LoggerMessage(EventId = 1407, Level = LogLevel.Debug, Message = "Yamux ping backlog full; dropping ping answers")]
    public static partial void PongsDropped(ILogger logger);

    [LoggerMessage(EventId = 1408, Level = LogLevel.Error, Message = "Yamux session failed internally")]
    public static partial void InternalError(ILogger logger, Exception error);

    [LoggerMessage(EventId = 1409, Level = LogLevel.Trace, Message = "Yamux stream {StreamId} receive window grown to {Window} bytes")]
    public static partial void WindowGrown(ILogger logger, uint streamId, uint window);

    [LoggerMessage(EventId = 1410, Level = LogLevel.Trace, Message = "Yamux stream {StreamId} opened ({Direction})")]
    public static partial void StreamOpened(ILogger logger, uint streamId, string direction);

    [LoggerMessage(EventId = 1411, Level = LogLevel.Trace, Message = "Yamux stream {StreamId} closed")]
    public static partial void StreamClosed(ILogger logger, uint streamId);

    [LoggerMessage(EventId = 1412, Level = LogLevel.Debug, Message = "Yamux peer ignored frame: {Detail}")]
    public static partial void OddFrame(ILogger logger, string detail);

    [LoggerMessage(EventId = 1413, Level = LogLevel.Trace, Message = "Yamux ping round trip {RttMs} ms")]
    public static partial void PingCompleted(ILogger logger, double rttMs);
}
