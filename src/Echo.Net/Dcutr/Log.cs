using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Dcutr;

internal static partial class Log
{
    [LoggerMessage(EventId = 4300, Level = LogLevel.Debug, Message = "DCUtR: upgrading the relayed connection to {Peer}")]
    public static partial void UpgradeStarted(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 4301, Level = LogLevel.Debug, Message = "DCUtR: direct dial of {Peer}'s public addresses failed: {Reason}")]
    public static partial void DirectDialFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 4302, Level = LogLevel.Debug, Message = "DCUtR: attempt {Attempt} with {Peer} failed: {Reason}")]
    public static partial void AttemptFailed(ILogger logger, int attempt, PeerId peer, string reason);

    [LoggerMessage(EventId = 4303, Level = LogLevel.Information, Message = "DCUtR: {Result}")]
    public static partial void Completed(ILogger logger, DcutrResult result);

    [LoggerMessage(EventId = 4304, Level = LogLevel.Debug, Message = "DCUtR: {Peer} sent {Dropped} unusable address(es) in CONNECT; ignored")]
    public static partial void AddressesDropped(ILogger logger, PeerId peer, int dropped);

    [LoggerMessage(EventId = 4305, Level = LogLevel.Debug, Message = "DCUtR: attempt {Attempt} with {Peer}: RTT {RttMs} ms, punching {Addresses} as {Role}")]
    public static partial void Punching(ILogger logger, int attempt, PeerId peer, double rttMs, string addresses, Host.ConnectionRole role);

    [LoggerMessage(EventId = 4306, Level = LogLevel.Debug, Message = "DCUtR: the relayed connection to {Peer} ended before the upgrade finished")]
    public static partial void RelayedEnded(ILogger logger, PeerId peer);

    [LoggerMessage(EventId = 4307, Level = LogLevel.Debug, Message = "DCUtR: punch dial to {Address} failed: {Reason}")]
    public static partial void PunchDialFailed(ILogger logger, Multiaddr address, string reason);

    [LoggerMessage(EventId = 4308, Level = LogLevel.Warning, Message = "A DCUtR result handler failed")]
    public static partial void HandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4309, Level = LogLevel.Warning, Message = "DCUtR upgrade of the connection to {Peer} failed unexpectedly")]
    public static partial void UpgradeCrashed(ILogger logger, PeerId peer, Exception exception);

    [LoggerMessage(EventId = 4310, Level = LogLevel.Debug,
        Message = "DCUtR: {Peer} and we both lead an upgrade (a relayed connection each way); the one on the connection both keep goes on, led by {Leader}")]
    public static partial void BothLead(ILogger logger, PeerId peer, string leader);
}
