using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Mdns;

internal static partial class Log
{
    [LoggerMessage(EventId = 2400, Level = LogLevel.Information, Message = "mDNS discovery on {Interfaces} as {PeerName}")]
    public static partial void Started(ILogger logger, string interfaces, string peerName);

    [LoggerMessage(EventId = 2401, Level = LogLevel.Warning, Message = "mDNS is off: {Reason}")]
    public static partial void Unavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 2402, Level = LogLevel.Debug, Message = "mDNS packet from {Source} ignored: {Reason}")]
    public static partial void PacketIgnored(ILogger logger, object source, string reason);

    [LoggerMessage(EventId = 2403, Level = LogLevel.Debug, Message = "mDNS send on interface {Interface} failed: {Reason}")]
    public static partial void SendFailed(ILogger logger, string @interface, string reason);

    [LoggerMessage(EventId = 2404, Level = LogLevel.Debug, Message = "mDNS found {Peer} under {Service} at {Addresses}")]
    public static partial void PeerFound(ILogger logger, PeerId peer, string service, string addresses);

    [LoggerMessage(EventId = 2405, Level = LogLevel.Debug, Message = "mDNS peer {Peer} dialed at {Address}")]
    public static partial void Dialed(ILogger logger, PeerId peer, string address);

    [LoggerMessage(EventId = 2406, Level = LogLevel.Information, Message = "mDNS dial of {Peer} failed ({Failures} in a row, next try in {BackoffSeconds} s): {Reason}")]
    public static partial void DialFailed(ILogger logger, PeerId peer, int failures, double backoffSeconds, string reason);

    [LoggerMessage(EventId = 2408, Level = LogLevel.Information, Message = "mDNS peer table full: {Peers} peers kept, {Forgotten} forgotten to make room since the last such report")]
    public static partial void TableFull(ILogger logger, int peers, long forgotten);

    [LoggerMessage(EventId = 2409, Level = LogLevel.Information, Message = "mDNS dials limited to {PerSecond} a second: {Refused} offers refused since the last such report")]
    public static partial void DialsLimited(ILogger logger, int perSecond, long refused);

    [LoggerMessage(EventId = 2410, Level = LogLevel.Information, Message = "mDNS packets limited to {PerSecond} a second per interface and {PerSource} per source: {Dropped} dropped unread since the last such report")]
    public static partial void PacketsLimited(ILogger logger, int perSecond, int perSource, long dropped);

    [LoggerMessage(EventId = 2407, Level = LogLevel.Debug, Message = "mDNS could not join the group on interface {Interface}: {Reason}")]
    public static partial void JoinFailed(ILogger logger, string @interface, string reason);
}
