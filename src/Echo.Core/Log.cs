using Microsoft.Extensions.Logging;

namespace Echo.Core;

internal static partial class Log
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Chat started as {PeerId} with nick {Nick}")]
    public static partial void Started(ILogger logger, string peerId, string nick);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Peer {PeerId} connected at {Address}")]
    public static partial void PeerConnected(ILogger logger, string peerId, string address);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Peer {PeerId} disconnected")]
    public static partial void PeerDisconnected(ILogger logger, string peerId);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "History store: {Reason}")]
    public static partial void HistoryFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Warning, Message = "File sharing state {Path} cannot be used: {Reason}")]
    public static partial void FileStateUnreadable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Debug, Message = "File offer from {PeerId} ignored: {Reason}")]
    public static partial void OfferIgnored(ILogger logger, string peerId, string reason);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Information, Message = "Offered file {Path} changed since it was offered; no longer served")]
    public static partial void OfferedFileChanged(ILogger logger, string path);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Information, Message = "Download {Id} interrupted, will resume: {Reason}")]
    public static partial void TransferInterrupted(ILogger logger, string id, string reason);

    [LoggerMessage(EventId = 3014, Level = LogLevel.Information, Message = "Download {Id} from {PeerId} at offset {Offset}")]
    public static partial void TransferStarted(ILogger logger, string id, string peerId, long offset);

    [LoggerMessage(EventId = 3015, Level = LogLevel.Debug, Message = "Direct message {Id} to {PeerId} not delivered yet: {Reason}")]
    public static partial void DirectNotDelivered(ILogger logger, string id, string peerId, string reason);

    [LoggerMessage(EventId = 3016, Level = LogLevel.Warning, Message = "Direct message {Id} with {PeerId}: the store failed: {Reason}")]
    public static partial void DirectNotStored(ILogger logger, string id, string peerId, string reason);

    [LoggerMessage(EventId = 3040, Level = LogLevel.Information, Message = "Peer {PeerId} could not be reached: {Reason}")]
    public static partial void PeerUnreachable(ILogger logger, string peerId, string reason);

    [LoggerMessage(EventId = 3041, Level = LogLevel.Information, Message = "Download {Id} stopped: {Reason}")]
    public static partial void TransferStopped(ILogger logger, string id, string reason);

    [LoggerMessage(EventId = 3060, Level = LogLevel.Warning, Message = "Messages from {PeerId} are over the storage limit ({Reason}); those past it are dropped and counted")]
    public static partial void IngestRefused(ILogger logger, string peerId, string reason);
}
