using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Host;

internal static partial class Log
{
    [LoggerMessage(EventId = 1500, Level = LogLevel.Information, Message = "Listening on {Address}")]
    public static partial void Listening(ILogger logger, Multiaddr address);

    [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "Connected to {Peer} ({Direction}, {Address})")]
    public static partial void PeerConnected(ILogger logger, PeerId peer, ConnectionDirection direction, Multiaddr address);

    [LoggerMessage(EventId = 1502, Level = LogLevel.Information, Message = "Disconnected from {Peer}")]
    public static partial void PeerDisconnected(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 1503, Level = LogLevel.Debug, Message = "Inbound connection from {Address} failed its handshake: {Reason}")]
    public static partial void InboundHandshakeFailed(ILogger logger, Multiaddr address, string reason);

    [LoggerMessage(EventId = 1504, Level = LogLevel.Debug, Message = "Refused an inbound connection from {Address}: {Reason}")]
    public static partial void InboundRefused(ILogger logger, Multiaddr address, string reason);

    [LoggerMessage(EventId = 1505, Level = LogLevel.Debug, Message = "Duplicate connection to {Peer}: keeping the {Kept} one, closing the {Closed} one")]
    public static partial void DuplicateConnection(ILogger logger, PeerId peer, ConnectionDirection kept, ConnectionDirection closed);

    [LoggerMessage(EventId = 1506, Level = LogLevel.Debug, Message = "Stream from {Peer} for {Protocol} rejected: {Reason}")]
    public static partial void InboundStreamRejected(ILogger logger, PeerId peer, string protocol, string reason);

    [LoggerMessage(EventId = 1507, Level = LogLevel.Warning, Message = "Handler for {Protocol} failed on a stream from {Peer}")]
    public static partial void HandlerFailed(ILogger logger, PeerId peer, string protocol, Exception exception);

    [LoggerMessage(EventId = 1508, Level = LogLevel.Debug, Message = "Accepting streams from {Peer} stopped: {Reason}")]
    public static partial void AcceptLoopFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 1509, Level = LogLevel.Warning, Message = "{Count} stream handlers for {Peer} did not end after the connection closed")]
    public static partial void HandlersOutlivedConnection(ILogger logger, PeerId peer, int count);

    [LoggerMessage(EventId = 1510, Level = LogLevel.Debug, Message = "Dial {Address} failed: {Reason}")]
    public static partial void DialFailed(ILogger logger, Multiaddr address, string reason);

    [LoggerMessage(EventId = 1511, Level = LogLevel.Error, Message = "A connection event handler threw")]
    public static partial void EventHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1520, Level = LogLevel.Debug, Message = "Stream from {Peer} for {Protocol} ended: {Reason}")]
    public static partial void InboundStreamEnded(ILogger logger, PeerId peer, string protocol, string reason);

    [LoggerMessage(EventId = 1512, Level = LogLevel.Debug, Message = "Accept loop on {Address} ended")]
    public static partial void ListenerStopped(ILogger logger, Multiaddr address, Exception? exception);

    [LoggerMessage(EventId = 1513, Level = LogLevel.Debug, Message = "Redialed {Peer}")]
    public static partial void Redialed(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 1515, Level = LogLevel.Warning, Message = "Accepting on {Address} paused, retrying with backoff: {Reason}")]
    public static partial void AcceptPaused(ILogger logger, Multiaddr address, string reason);

    [LoggerMessage(EventId = 1516, Level = LogLevel.Information, Message = "Accepting on {Address} again after {Failures} failed attempts")]
    public static partial void AcceptResumed(ILogger logger, Multiaddr address, int failures);

    [LoggerMessage(EventId = 1517, Level = LogLevel.Debug, Message = "Trimmed the connection to {Peer} ({Connections} connections, high watermark {High})")]
    public static partial void ConnectionTrimmed(ILogger logger, PeerId peer, int connections, int high);

    [LoggerMessage(EventId = 1514, Level = LogLevel.Debug, Message = "Redial of {Peer} failed ({Failures} in a row, next try in {DelaySeconds:0.0} s): {Reason}")]
    public static partial void RedialFailed(ILogger logger, PeerId peer, int failures, double delaySeconds, string reason);

    [LoggerMessage(EventId = 1522, Level = LogLevel.Debug, Message = "Upgrade of the dial to {Address} from our listening port failed ({Reason}); once more from an ephemeral port")]
    public static partial void RetryingWithoutPortReuse(ILogger logger, Multiaddr address, string reason);

    [LoggerMessage(EventId = 1521, Level = LogLevel.Information, Message = "Advertised addresses now: {Addresses}")]
    public static partial void AddressesChanged(ILogger logger, string addresses);

    [LoggerMessage(EventId = 4251, Level = LogLevel.Debug,
        Message = "Limited connection with {Peer} ({Limit}) ended after {Duration}: {Sent} bytes sent, {Received} received")]
    public static partial void LimitedConnectionEnded(ILogger logger, PeerId peer, ConnectionLimit limit, TimeSpan duration, long sent, long received);
}
