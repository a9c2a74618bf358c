namespace Echo.Net;

/// <summary>
/// A remote peer broke a wire format or a protocol rule. It costs the stream or the connection it
/// arrived on, never the process. Every decoder in Echo.Net throws this type (or a subclass) for
/// bad input and nothing else.
/// </summary>
public class ProtocolViolationException(string protocolId, string message, Exception? inner = null)
    : Exception($"{protocolId}: {message}", inner)
{
    /// <summary>The protocol whose rules were broken, e.g. <c>/yamux/1.0.0</c> or <c>varint</c>.</summary>
    public string ProtocolId { get; } = protocolId;
}

/// <summary>A length read from the wire exceeds the maximum we accept; nothing was allocated for it.</summary>
public sealed class OversizedMessageException(string protocolId, ulong length, long limit)
    : ProtocolViolationException(protocolId, $"{length}-byte message exceeds the {limit}-byte limit")
{
    public ulong Length { get; } = length;
    public long Limit { get; } = limit;
}

/// <summary>The remote closed its side in the middle of a message.</summary>
public sealed class UnexpectedEndException(string protocolId)
    : ProtocolViolationException(protocolId, "stream ended in the middle of a message");
