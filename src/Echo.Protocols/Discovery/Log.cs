using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols.Discovery;

/// <summary>Source-generated log messages of room discovery through the DHT, EventIds 4400-4449.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 4400, Level = LogLevel.Debug, Message = "Provided {What} to {Count} peer(s)")]
    public static partial void Provided(ILogger logger, string what, int count);

    [LoggerMessage(EventId = 4401, Level = LogLevel.Debug, Message = "Providing {What} failed: {Reason}")]
    public static partial void ProvideFailed(ILogger logger, string what, string reason);

    [LoggerMessage(EventId = 4402, Level = LogLevel.Debug, Message = "Lookup of {What}: {Found} other provider(s), {Dialed} dialed")]
    public static partial void LookedUp(ILogger logger, string what, int found, int dialed);

    [LoggerMessage(EventId = 4403, Level = LogLevel.Debug, Message = "Lookup of {What} failed: {Reason}")]
    public static partial void LookupFailed(ILogger logger, string what, string reason);

    [LoggerMessage(EventId = 4404, Level = LogLevel.Debug, Message = "Dialing {Peer}, a provider of {What}, failed: {Reason}")]
    public static partial void DialFailed(ILogger logger, PeerId peer, string what, string reason);

    [LoggerMessage(EventId = 4405, Level = LogLevel.Debug, Message = "Presence lookup of {Peer}: {Count} address(es)")]
    public static partial void PresenceFound(ILogger logger, PeerId peer, int count);

    [LoggerMessage(EventId = 4406, Level = LogLevel.Debug, Message = "Lookup of {What} found provider {Peer} with {Count} address(es)")]
    public static partial void ProviderFound(ILogger logger, string what, PeerId peer, int count);
}
