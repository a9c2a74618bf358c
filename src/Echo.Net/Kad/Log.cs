using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Kad;

internal static partial class Log
{
    [LoggerMessage(EventId = 4100, Level = LogLevel.Information, Message = "DHT mode: {Mode}")]
    public static partial void ModeChanged(ILogger logger, KadMode mode);

    [LoggerMessage(EventId = 4101, Level = LogLevel.Debug, Message = "DHT request to {Peer} failed: {Reason}")]
    public static partial void RequestFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Debug, Message = "DHT provider record from {Peer} refused: {Reason}")]
    public static partial void ProviderRefused(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Debug, Message = "DHT lookup ({Kind}): {Found} found, {Messages} requests, {Peers} peers answered, {Milliseconds} ms")]
    public static partial void LookupDone(ILogger logger, KadLookupKind kind, int found, int messages, int peers, long milliseconds);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "DHT refreshed: {Count} peers in the routing table")]
    public static partial void Refreshed(ILogger logger, int count);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Warning, Message = "DHT peer cache: {Problem}")]
    public static partial void CacheProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Information, Message = "DHT routing table empty: dialing {Count} remembered DHT peers")]
    public static partial void DialingCachedPeers(ILogger logger, int count);

    [LoggerMessage(EventId = 4107, Level = LogLevel.Warning, Message = "DHT refresh failed; retried later")]
    public static partial void RefreshFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4108, Level = LogLevel.Debug, Message = "DHT request from {Peer} refused: {Reason}")]
    public static partial void RequestRefused(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 4109, Level = LogLevel.Warning, Message = "A DHT mode handler failed")]
    public static partial void HandlerFailed(ILogger logger, Exception exception);
}
