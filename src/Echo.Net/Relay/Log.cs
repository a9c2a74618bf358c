using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Relay;

internal static partial class Log
{
    [LoggerMessage(EventId = 4200, Level = LogLevel.Information,
        Message = "Relay reservation on {Relay} until {Expires:O} (status OK, limit {Limit}, voucher {Voucher}); reachable at {Addresses}")]
    public static partial void ReservationGranted(ILogger logger, PeerId relay, DateTimeOffset expires, ConnectionLimit limit, string voucher, string addresses);

    [LoggerMessage(EventId = 4201, Level = LogLevel.Debug, Message = "Relay reservation on {Relay} failed: {Reason}")]
    public static partial void ReservationFailed(ILogger logger, PeerId relay, string reason);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Information, Message = "Relay reservation on {Relay} ended: {Reason}")]
    public static partial void ReservationLost(ILogger logger, PeerId relay, string reason);

    [LoggerMessage(EventId = 4203, Level = LogLevel.Debug, Message = "Relay {Relay} sent a voucher that does not verify (ignored, vouchers are advisory): {Reason}")]
    public static partial void VoucherInvalid(ILogger logger, PeerId relay, string reason);

    [LoggerMessage(EventId = 4204, Level = LogLevel.Information, Message = "Relayed connection from {Peer} through {Relay} (limit {Limit})")]
    public static partial void CircuitAccepted(ILogger logger, PeerId peer, PeerId relay, ConnectionLimit limit);

    [LoggerMessage(EventId = 4205, Level = LogLevel.Debug, Message = "Refused a circuit from relay {Relay}: {Status} ({Reason})")]
    public static partial void StopRefused(ILogger logger, PeerId relay, string status, string reason);

    [LoggerMessage(EventId = 4206, Level = LogLevel.Information, Message = "Relayed connection to {Peer} through {Relay} (limit {Limit})")]
    public static partial void CircuitDialed(ILogger logger, PeerId peer, PeerId relay, ConnectionLimit limit);

    [LoggerMessage(EventId = 4207, Level = LogLevel.Debug, Message = "A relay candidate source failed: {Reason}")]
    public static partial void CandidateSourceFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 4208, Level = LogLevel.Warning, Message = "The relay reservation manager failed a round")]
    public static partial void ManagerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4209, Level = LogLevel.Debug, Message = "Relayed connection from {Peer} through {Relay} failed its upgrade: {Reason}")]
    public static partial void CircuitUpgradeFailed(ILogger logger, PeerId peer, PeerId relay, string reason);

    [LoggerMessage(EventId = 4220, Level = LogLevel.Information, Message = "Relay service {State}")]
    public static partial void ServiceState(ILogger logger, string state);

    [LoggerMessage(EventId = 4221, Level = LogLevel.Debug, Message = "Relay service: reservation for {Peer} until {Expires:O}")]
    public static partial void ReservationServed(ILogger logger, PeerId peer, DateTimeOffset expires);

    [LoggerMessage(EventId = 4222, Level = LogLevel.Debug, Message = "Relay service: refused {Request} from {Peer}: {Status} ({Reason})")]
    public static partial void HopRefused(ILogger logger, string request, PeerId peer, string status, string reason);

    [LoggerMessage(EventId = 4223, Level = LogLevel.Debug, Message = "Relay service: circuit {Source} -> {Destination} opened")]
    public static partial void CircuitOpened(ILogger logger, PeerId source, PeerId destination);

    [LoggerMessage(EventId = 4224, Level = LogLevel.Debug,
        Message = "Relay service: circuit {Source} -> {Destination} closed ({Reason}), {SourceBytes} bytes relayed from the source, {DestinationBytes} from the destination")]
    public static partial void CircuitClosed(ILogger logger, PeerId source, PeerId destination, string reason, long sourceBytes, long destinationBytes);

    [LoggerMessage(EventId = 4225, Level = LogLevel.Debug, Message = "Relay service: {Peer}'s hop stream failed: {Reason}")]
    public static partial void HopFailed(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 4226, Level = LogLevel.Debug, Message = "Relay service: reservation of {Peer} ended: {Reason}")]
    public static partial void ReservationDropped(ILogger logger, PeerId peer, string reason);

    [LoggerMessage(EventId = 4227, Level = LogLevel.Debug, Message = "Relayed address {Address} not dialed: {Reason}")]
    public static partial void CircuitDialFailed(ILogger logger, Multiaddr address, string reason);
}
