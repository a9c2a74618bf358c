using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols;

/// <summary>Log messages of the chat over limited (relayed) connections, EventIds 4460-4479.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 4460, Level = LogLevel.Debug, Message = "The relayed connection to {Peer} ended; dialing it again through {Address}")]
    public static partial void CircuitRedial(ILogger logger, PeerId peer, string address);

    [LoggerMessage(EventId = 4461, Level = LogLevel.Information, Message = "{Peer} is now reached {Via} at {Address}")]
    public static partial void PeerPathChanged(ILogger logger, PeerId peer, string via, string address);

    [LoggerMessage(EventId = 4462, Level = LogLevel.Debug,
        Message = "History sync of {Room} with {Peer} stops for now: {Remaining} bytes left on the limited connection; the next connection goes on")]
    public static partial void HistorySyncDeferred(ILogger logger, PeerId peer, string room, long remaining);

    [LoggerMessage(EventId = 4463, Level = LogLevel.Information, Message = "{Peer} stays relayed: {Reason}")]
    public static partial void PeerRelayReason(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 4464, Level = LogLevel.Debug,
        Message = "The relayed connection to {Peer} nears its duration limit ({Remaining} left); dialing a new circuit through {Address}")]
    public static partial void CircuitRenew(ILogger logger, PeerId peer, string address, TimeSpan remaining);

    [LoggerMessage(EventId = 4465, Level = LogLevel.Debug,
        Message = "A new circuit to {Peer} could not be dialed ({Reason}); the chat dials again when the relay cuts the old one")]
    public static partial void CircuitRenewFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 4466, Level = LogLevel.Debug,
        Message = "History sync of {Room} with {Peer} stops for now: {Remaining} left of the limited connection's time; the next connection goes on")]
    public static partial void HistorySyncDeferredTime(ILogger logger, PeerId peer, string room, TimeSpan remaining);

    [LoggerMessage(EventId = 4467, Level = LogLevel.Debug,
        Message = "Profile {Seq} not sent again to {Peer}: it has it, and the circuit's data limit is small")]
    public static partial void ProfileKnown(ILogger logger, PeerId peer, ulong seq);
}
