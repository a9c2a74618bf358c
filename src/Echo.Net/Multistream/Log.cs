using Microsoft.Extensions.Logging;

namespace Echo.Net.Multistream;

internal static partial class Log
{
    [LoggerMessage(EventId = 1200, Level = LogLevel.Trace, Message = "Selected {Protocol}")]
    public static partial void Selected(ILogger logger, string protocol);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Trace, Message = "Responder does not support {Protocol}")]
    public static partial void ProposalRefused(ILogger logger, string protocol);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Trace, Message = "Accepted {Protocol}")]
    public static partial void Accepted(ILogger logger, string protocol);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Trace, Message = "Answered na to {Protocol}")]
    public static partial void AnsweredNotAvailable(ILogger logger, string protocol);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Debug, Message = "Negotiation as {Role} failed: {Reason}")]
    public static partial void NegotiationFailed(ILogger logger, string role, string reason);
}
