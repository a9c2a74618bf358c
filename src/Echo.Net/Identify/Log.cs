using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Identify;

internal static partial class Log
{
    [LoggerMessage(EventId = 1700, Level = LogLevel.Debug, Message = "Identified {Peer}: agent \"{Agent}\", {ProtocolCount} protocols")]
    public static partial void Identified(ILogger logger, PeerId peer, string agent, int protocolCount);

    [LoggerMessage(EventId = 1701, Level = LogLevel.Debug, Message = "Identify of {Peer} failed: {Reason}")]
    public static partial void IdentifyFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 1702, Level = LogLevel.Debug, Message = "Identify push from {Peer}: {ProtocolCount} protocols")]
    public static partial void PushReceived(ILogger logger, PeerId peer, int protocolCount);

    [LoggerMessage(EventId = 1710, Level = LogLevel.Debug, Message = "Identify push from {Peer} reset: less than a second after its last one")]
    public static partial void PushTooSoon(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 1703, Level = LogLevel.Debug, Message = "Identify push to {Peer} failed: {Reason}")]
    public static partial void PushFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 4250, Level = LogLevel.Debug,
        Message = "Identify of {Peer} not asked again on a circuit with a small data limit: what it said {AgeSeconds:0} s ago is used")]
    public static partial void IdentifyReused(ILogger logger, PeerId peer, double ageSeconds);
}
