using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Bootstrap;

internal static partial class Log
{
    [LoggerMessage(EventId = 2650, Level = LogLevel.Information, Message = "Bootstrapping from {Count} peers")]
    public static partial void Starting(ILogger logger, int count);

    [LoggerMessage(EventId = 2651, Level = LogLevel.Information, Message = "Bootstrap peer {Peer} connected ({Connected} of {Count})")]
    public static partial void Connected(ILogger logger, PeerId peer, int connected, int count);

    [LoggerMessage(EventId = 2652, Level = LogLevel.Debug, Message = "Bootstrap peer {Peer} disconnected ({Connected} of {Count} left)")]
    public static partial void Disconnected(ILogger logger, PeerId peer, int connected, int count);

    [LoggerMessage(EventId = 2653, Level = LogLevel.Warning, Message = "Bootstrap cache: {Problem}")]
    public static partial void CacheProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = 2655, Level = LogLevel.Information, Message = "Bootstrap name {Name} not resolved: {Reason}")]
    public static partial void NameNotResolved(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 2654, Level = LogLevel.Debug, Message = "Bootstrap peer {Peer} not resolved: {Reason}")]
    public static partial void NotResolved(ILogger logger, PeerId peer, string reason);
}
