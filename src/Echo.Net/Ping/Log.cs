using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Ping;

internal static partial class Log
{
    [LoggerMessage(EventId = 1800, Level = LogLevel.Debug, Message = "Ping to {Peer} took {RttMs} ms")]
    public static partial void PingCompleted(ILogger logger, PeerId peer, double rttMs);
}
