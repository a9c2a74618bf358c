using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Noise;

internal static partial class Log
{
    [LoggerMessage(EventId = 1300, Level = LogLevel.Debug, Message = "Noise handshake as {Role} completed with {Peer}")]
    public static partial void HandshakeCompleted(ILogger logger, string role, PeerId peer);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Debug, Message = "Noise handshake as {Role} failed: {Reason}")]
    public static partial void HandshakeFailed(ILogger logger, string role, string reason);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Debug, Message = "Noise channel with {Peer} failed: {Reason}")]
    public static partial void ChannelFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Trace, Message = "Noise channel with {Peer}: remote closed its side")]
    public static partial void RemoteClosed(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Trace, Message = "Noise channel with {Peer}: local side closed")]
    public static partial void LocalClosed(ILogger logger, PeerId peer);
}
