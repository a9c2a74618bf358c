using Echo.Net.Host;
using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Pubsub;

internal static partial class Log
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Pubsub started on {Peer}")]
    public static partial void Started(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Subscribed to \"{Topic}\"")]
    public static partial void Subscribed(ILogger logger, string topic);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Unsubscribed from \"{Topic}\"")]
    public static partial void Unsubscribed(ILogger logger, string topic);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Debug, Message = "Published message {Seqno} on \"{Topic}\" to {Recipients} peers")]
    public static partial void Published(ILogger logger, string topic, ulong seqno, int recipients);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Debug, Message = "Pubsub peer {Peer} added ({Direction} connection)")]
    public static partial void PeerAdded(ILogger logger, PeerId peer, ConnectionDirection direction);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Debug, Message = "Pubsub peer {Peer} removed: {Reason}")]
    public static partial void PeerRemoved(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Debug, Message = "Pubsub stream to {Peer} opened with {Protocol}")]
    public static partial void OutboundOpened(ILogger logger, PeerId peer, string protocol);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Debug, Message = "Could not open a pubsub stream to {Peer}: {Reason}")]
    public static partial void OutboundFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Debug, Message = "Writing to {Peer} failed: {Reason}")]
    public static partial void WriteFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Debug, Message = "A new pubsub stream from {Peer} replaces its previous one")]
    public static partial void InboundReplaced(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Debug, Message = "Pubsub stream from {Peer} ended: {Reason}")]
    public static partial void InboundEnded(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Debug, Message = "Ignoring an RPC from graylisted peer {Peer}")]
    public static partial void Graylisted(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Debug, Message = "Invalid message from {Peer} on \"{Topic}\": {Reason}")]
    public static partial void InvalidMessage(ILogger logger, PeerId peer, string topic, string reason);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Debug, Message = "A validator rejected a message from {Peer} on \"{Topic}\"")]
    public static partial void MessageRejected(ILogger logger, PeerId peer, string topic);

    [LoggerMessage(EventId = 2014, Level = LogLevel.Error, Message = "A validator of \"{Topic}\" threw; the message is ignored")]
    public static partial void ValidatorFailed(ILogger logger, string topic, Exception exception);

    [LoggerMessage(EventId = 2015, Level = LogLevel.Debug, Message = "{Peer} sent {Count} subscriptions over the limit; ignored")]
    public static partial void SubscriptionsOverLimit(ILogger logger, PeerId peer, int count);

    [LoggerMessage(EventId = 2016, Level = LogLevel.Debug, Message = "{Peer} sent a {Bytes}-byte control section (limit {Limit}); skipped")]
    public static partial void ControlOverLimit(ILogger logger, PeerId peer, int bytes, int limit);

    [LoggerMessage(EventId = 2017, Level = LogLevel.Debug, Message = "{Peer} sent more than {Limit} IHAVEs this heartbeat; the rest are ignored")]
    public static partial void IHaveOverLimit(ILogger logger, PeerId peer, int limit);

    [LoggerMessage(EventId = 2018, Level = LogLevel.Debug, Message = "{Peer} grafted \"{Topic}\" during its backoff; penalised and pruned")]
    public static partial void GraftDuringBackoff(ILogger logger, PeerId peer, string topic);

    [LoggerMessage(EventId = 2019, Level = LogLevel.Debug, Message = "{Peer} joins our mesh for \"{Topic}\" ({Why})")]
    public static partial void Grafted(ILogger logger, PeerId peer, string topic, string why);

    [LoggerMessage(EventId = 2020, Level = LogLevel.Debug, Message = "{Peer} leaves our mesh for \"{Topic}\"")]
    public static partial void Pruned(ILogger logger, PeerId peer, string topic);

    [LoggerMessage(EventId = 2021, Level = LogLevel.Debug, Message = "{Peer} pruned us from \"{Topic}\" with a {BackoffSeconds} s backoff")]
    public static partial void PrunedBy(ILogger logger, PeerId peer, string topic, double backoffSeconds);

    [LoggerMessage(EventId = 2022, Level = LogLevel.Debug, Message = "{Peer} did not deliver a message it advertised in IHAVE; penalised")]
    public static partial void BrokenPromise(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 2023, Level = LogLevel.Debug, Message = "Outbound queue to {Peer} is full; {Dropped} RPCs dropped so far")]
    public static partial void QueueFull(ILogger logger, PeerId peer, long dropped);


    [LoggerMessage(EventId = 2025, Level = LogLevel.Error, Message = "Pubsub heartbeat failed")]
    public static partial void HeartbeatFailed(ILogger logger, Exception exception);
}
