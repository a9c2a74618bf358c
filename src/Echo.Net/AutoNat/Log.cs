using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging;

namespace Echo.Net.AutoNat;

internal static partial class Log
{
    [LoggerMessage(EventId = 2800, Level = LogLevel.Debug, Message = "AutoNAT request from {Peer} failed: {Reason}")]
    public static partial void ServeFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 2801, Level = LogLevel.Debug, Message = "AutoNAT request from {Peer} refused: rate limit")]
    public static partial void RateLimited(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 2802, Level = LogLevel.Debug, Message = "AutoNAT check for {Peer} of {Address}: {Status}")]
    public static partial void Served(ILogger logger, PeerId peer, Multiaddr address, string status);

    [LoggerMessage(EventId = 2803, Level = LogLevel.Debug, Message = "AutoNAT dial back to {Address} failed: {Reason}")]
    public static partial void DialBackFailed(ILogger logger, Multiaddr address, string reason);

    [LoggerMessage(EventId = 2804, Level = LogLevel.Debug, Message = "AutoNAT dial back from {Peer} with a nonce of no check of ours: reset")]
    public static partial void DialBackUnknownNonce(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 2805, Level = LogLevel.Debug, Message = "AutoNAT check of {Address} by {Peer} ({Protocol}): {Outcome} {Reason}")]
    public static partial void Checked(ILogger logger, Multiaddr? address, PeerId peer, string protocol, AutoNatOutcome outcome, string? reason);

    [LoggerMessage(EventId = 2806, Level = LogLevel.Information, Message = "Reachability: {Status} ({Addresses})")]
    public static partial void ReachabilityChanged(ILogger logger, ReachabilityStatus status, string addresses);

    [LoggerMessage(EventId = 2807, Level = LogLevel.Information, Message = "AutoNAT server {State}")]
    public static partial void ServerState(ILogger logger, string state);

    [LoggerMessage(EventId = 2810, Level = LogLevel.Information, Message = "AutoNAT dial back with our nonce arrived from {From}")]
    public static partial void DialBackArrived(ILogger logger, Multiaddr from);

    [LoggerMessage(EventId = 2811, Level = LogLevel.Information,
        Message = "AutoNAT dial data from {Peer} for {Address}: {Received} bytes of {Asked} asked, in {Chunks} chunks of at most {Largest} bytes")]
    public static partial void DialDataReceived(ILogger logger, PeerId peer, Multiaddr address, long received, int asked, int chunks, int largest);

    [LoggerMessage(EventId = 2812, Level = LogLevel.Debug, Message = "AutoNAT dial back to {Address}: nonce sent, no answer ({Reason})")]
    public static partial void DialBackUnanswered(ILogger logger, Multiaddr address, string reason);

    [LoggerMessage(EventId = 2808, Level = LogLevel.Warning, Message = "AutoNAT round failed; retried later")]
    public static partial void RoundFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 2809, Level = LogLevel.Warning, Message = "A reachability handler failed")]
    public static partial void HandlerFailed(ILogger logger, Exception exception);
}
