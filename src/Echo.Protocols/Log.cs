using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols;

/// <summary>Source-generated log messages of the chat protocols, EventIds 3100-3199.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3100, Level = LogLevel.Debug, Message = "Room message from {Author} on {Topic} rejected: {Reason}")]
    public static partial void RoomMessageRejected(ILogger logger, PeerId author, string topic, string reason);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Debug, Message = "Ping to {Peer} failed: {Reason}")]
    public static partial void PingFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Debug, Message = "Opening an echo-go stream to {Peer} failed: {Reason}")]
    public static partial void EchoGoOpenFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Debug, Message = "echo-go stream with {Peer} ({Direction}) in use")]
    public static partial void EchoGoStreamOpened(ILogger logger, PeerId peer, string direction);

    [LoggerMessage(EventId = 3106, Level = LogLevel.Debug, Message = "echo-go line from {Peer} shown truncated: it had {Bytes} bytes")]
    public static partial void EchoGoLineTruncated(ILogger logger, PeerId peer, long bytes);

    [LoggerMessage(EventId = 3105, Level = LogLevel.Debug, Message = "echo-go line from {Peer} not shown: it is in our pubsub session and we are in the default room, whose messages it sends us there")]
    public static partial void EchoGoLineFromRoomPeer(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 3107, Level = LogLevel.Debug, Message = "echo-go stream with {Peer} ({Direction}) ended: {Reason}")]
    public static partial void EchoGoStreamEnded(ILogger logger, PeerId peer, string direction, string reason);

    [LoggerMessage(EventId = 3108, Level = LogLevel.Debug, Message = "echo-go write to {Peer} failed: {Reason}")]
    public static partial void EchoGoWriteFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 3109, Level = LogLevel.Debug, Message = "echo-go line to {Peer} dropped: its queue is full")]
    public static partial void EchoGoLineDropped(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 3111, Level = LogLevel.Information, Message = "Chat network started as {PeerId}")]
    public static partial void Started(ILogger logger, PeerId peerId);

    [LoggerMessage(EventId = 3120, Level = LogLevel.Debug, Message = "History sync of {Room} with {Peer} failed: {Reason}")]
    public static partial void HistorySyncFailed(ILogger logger, PeerId peer, string room, string reason);

    [LoggerMessage(EventId = 3121, Level = LogLevel.Debug, Message = "History sync of {Room} refused by {Peer}: {Reason}")]
    public static partial void HistoryRefused(ILogger logger, PeerId peer, string room, string reason);

    [LoggerMessage(EventId = 3122, Level = LogLevel.Warning, Message = "History message from {Peer} in {Room} dropped: {Reason} ({Count} so far)")]
    public static partial void HistoryMessageRejected(ILogger logger, PeerId peer, string room, string reason, int count);

    [LoggerMessage(EventId = 3123, Level = LogLevel.Debug, Message = "Serving history to {Peer} ended: {Reason}")]
    public static partial void HistoryServeEnded(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 3124, Level = LogLevel.Information, Message = "History sync of {Room} with {Peer}: {Count} new message(s)")]
    public static partial void HistorySynced(ILogger logger, PeerId peer, string room, int count);

    [LoggerMessage(EventId = 3130, Level = LogLevel.Debug, Message = "Direct message from {Peer} rejected: {Reason}")]
    public static partial void DirectRejected(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 3157, Level = LogLevel.Warning, Message = "Direct message from {Peer} not accepted: {Reason} ({HeldBack} more from it in the last minute not logged)")]
    public static partial void DirectNotAccepted(ILogger logger, PeerId peer, string reason, long heldBack);

    [LoggerMessage(EventId = 3160, Level = LogLevel.Debug, Message = "Profile from {Peer} rejected: {Reason}")]
    public static partial void ProfileRejected(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 3161, Level = LogLevel.Debug, Message = "Profile from {Peer} ignored: sequence {Seq} is not newer than the last one")]
    public static partial void ProfileStale(ILogger logger, PeerId peer, ulong seq);

    [LoggerMessage(EventId = 3162, Level = LogLevel.Debug, Message = "Profile to {Peer} not sent: {Reason}")]
    public static partial void ProfileNotSent(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 3131, Level = LogLevel.Information, Message = "Serving file {Id} to {Peer} from offset {Offset}")]
    public static partial void FileServing(ILogger logger, PeerId peer, string id, ulong offset);

    [LoggerMessage(EventId = 3132, Level = LogLevel.Debug, Message = "Served {Protocol} stream to {Peer} reset: no progress for {Seconds} s")]
    public static partial void ServedStreamIdle(ILogger logger, PeerId peer, string protocol, double seconds);

    [LoggerMessage(EventId = 3140, Level = LogLevel.Warning, Message = "Remembered peers: {Problem}")]
    public static partial void PeerBookProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = 3141, Level = LogLevel.Information, Message = "Forgot remembered peer {Peer}: {Reason}")]
    public static partial void PeerForgotten(ILogger logger, PeerId peer, string reason);
}
