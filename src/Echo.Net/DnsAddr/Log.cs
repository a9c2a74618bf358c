using Microsoft.Extensions.Logging;

namespace Echo.Net.DnsAddr;

internal static partial class Log
{
    [LoggerMessage(EventId = 2600, Level = LogLevel.Warning, Message = "dnsaddr record of {Name} skipped, not a multiaddr: \"{Record}\" ({Reason})")]
    public static partial void MalformedRecord(ILogger logger, string name, string record, string reason);

    [LoggerMessage(EventId = 2601, Level = LogLevel.Debug, Message = "dnsaddr record of {Name} skipped: {Address} ({Reason})")]
    public static partial void RecordSkipped(ILogger logger, string name, string address, string reason);

    [LoggerMessage(EventId = 2602, Level = LogLevel.Information, Message = "dnsaddr {Name} not resolved further: {Reason}")]
    public static partial void LimitReached(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 2603, Level = LogLevel.Information, Message = "dnsaddr lookup of {Name} failed: {Reason}")]
    public static partial void LookupFailed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 2604, Level = LogLevel.Debug, Message = "dnsaddr {Address} resolved to {Count} addresses")]
    public static partial void Resolved(ILogger logger, string address, int count);
}
