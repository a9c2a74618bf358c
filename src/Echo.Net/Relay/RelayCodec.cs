using System.IO.Pipelines;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Relay.Pb;
using Google.Protobuf;

namespace Echo.Net.Relay;

/// <summary>
/// The circuit relay v2 wire (relay/circuit-v2.md): protocol ids and uvarint-length-prefixed
/// <see cref="HopMessage"/> and <see cref="StopMessage"/>, each length checked against
/// <see cref="MaxMessageLength"/> before anything is allocated.
/// </summary>
internal static class RelayCodec
{
    /// <summary>Client ↔ relay: RESERVE and CONNECT.</summary>
    public const string HopProtocol = "/libp2p/circuit/relay/0.2.0/hop";

    /// <summary>Relay → the reserving peer: a circuit arrives (CONNECT).</summary>
    public const string StopProtocol = "/libp2p/circuit/relay/0.2.0/stop";

    /// <summary>The largest hop or stop message read: 4 KiB, go's <c>maxMessageSize</c> for both.</summary>
    public const int MaxMessageLength = 4096;

    /// <summary>Reads one hop message; null when the peer closed before its first byte.</summary>
    /// <exception cref="ProtocolViolationException">Oversized, cut short or not a hop message.</exception>
    public static async ValueTask<HopMessage?> ReadHopAsync(PipeReader input, CancellationToken cancellationToken)
    {
        byte[]? bytes = await input.ReadLengthPrefixedAsync(MaxMessageLength, HopProtocol, cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : Parse(HopMessage.Parser, bytes, HopProtocol);
    }

    /// <summary>Reads one stop message; null when the peer closed before its first byte.</summary>
    /// <exception cref="ProtocolViolationException">Oversized, cut short or not a stop message.</exception>
    public static async ValueTask<StopMessage?> ReadStopAsync(PipeReader input, CancellationToken cancellationToken)
    {
        byte[]? bytes = await input.ReadLengthPrefixedAsync(MaxMessageLength, StopProtocol, cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : Parse(StopMessage.Parser, bytes, StopProtocol);
    }

    public static T Parse<T>(MessageParser<T> parser, ReadOnlySpan<byte> bytes, string protocolId)
        where T : IMessage<T>
    {
        if (bytes.Length > MaxMessageLength)
            throw new OversizedMessageException(protocolId, (ulong)bytes.Length, MaxMessageLength);
        try
        {
            return parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(protocolId, "malformed relay message: " + e.Message, e);
        }
    }

    public static ValueTask WriteAsync(PipeWriter output, IMessage message, CancellationToken cancellationToken) =>
        output.WriteLengthPrefixedAsync(message.ToByteArray(), cancellationToken);

    /// <summary>A hop STATUS answer with <paramref name="status"/>.</summary>
    public static HopMessage HopStatus(Status status) => new() { Type = HopMessage.Types.Type.Status, Status = status };

    /// <summary>A stop STATUS answer with <paramref name="status"/>.</summary>
    public static StopMessage StopStatus(Status status) => new() { Type = StopMessage.Types.Type.Status, Status = status };

    /// <summary>
    /// A <c>limit.duration</c> above this many seconds (a day) is read as milliseconds: js-libp2p's
    /// relay server sends its 2-minute default as 120000 (its own client reads milliseconds), where
    /// the spec and go send seconds (120). No relay keeps a circuit for more than a day.
    /// </summary>
    public const uint MaxDurationSeconds = 86_400;

    /// <summary>
    /// The limit a relay sent as a connection limit: absent is <see cref="ConnectionLimit.Unknown"/>
    /// (a relayed connection is limited whatever the relay says); a zero field means none.
    /// </summary>
    public static ConnectionLimit ToConnectionLimit(Limit? limit) => limit is null
        ? ConnectionLimit.Unknown
        : new ConnectionLimit(
            limit.HasDuration && limit.Duration > 0
                ? limit.Duration > MaxDurationSeconds ? TimeSpan.FromMilliseconds(limit.Duration) : TimeSpan.FromSeconds(limit.Duration)
                : null,
            limit.HasData && limit.Data > 0 ? (long)Math.Min(limit.Data, long.MaxValue) : null);

    /// <summary>The wire form of a relay's limits (null fields left out: none).</summary>
    public static Limit? ToLimit(TimeSpan? duration, long? data)
    {
        if (duration is null && data is null)
            return null;
        Limit limit = new();
        if (duration is { } d)
            limit.Duration = (uint)Math.Clamp(Math.Ceiling(d.TotalSeconds), 1, uint.MaxValue);
        if (data is { } bytes)
            limit.Data = (ulong)Math.Max(bytes, 1);
        return limit;
    }

    /// <summary>The status name as the spec spells it, for logs and errors (an unknown code as its number).</summary>
    public static string Describe(Status status) => status switch
    {
        Status.Ok => "OK",
        Status.ReservationRefused => "RESERVATION_REFUSED",
        Status.ResourceLimitExceeded => "RESOURCE_LIMIT_EXCEEDED",
        Status.PermissionDenied => "PERMISSION_DENIED",
        Status.ConnectionFailed => "CONNECTION_FAILED",
        Status.NoReservation => "NO_RESERVATION",
        Status.MalformedMessage => "MALFORMED_MESSAGE",
        Status.UnexpectedMessage => "UNEXPECTED_MESSAGE",
        _ => ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
