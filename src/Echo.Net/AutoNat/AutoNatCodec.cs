using System.IO.Pipelines;
using Echo.Net.Framing;
using Echo.Net.Host;
using Google.Protobuf;

namespace Echo.Net.AutoNat;

/// <summary>
/// The AutoNAT wire: protocol ids and uvarint-length-prefixed protobuf messages, each length
/// checked against its limit before anything is allocated (<see cref="PipeExtensions.ReadLengthPrefixedAsync"/>).
/// </summary>
internal static class AutoNatCodec
{
    public const string DialRequestProtocol = "/libp2p/autonat/2/dial-request";
    public const string DialBackProtocol = "/libp2p/autonat/2/dial-back";
    public const string V1Protocol = "/libp2p/autonat/1.0.0";

    /// <summary>Reads one <c>/libp2p/autonat/2/dial-request</c> message; null when the peer closed first.</summary>
    public static async ValueTask<Pb.V2.Message?> ReadV2Async(PipeReader input, CancellationToken cancellationToken)
    {
        byte[]? bytes = await input.ReadLengthPrefixedAsync(AutoNatLimits.MaxMessageLength, DialRequestProtocol, cancellationToken)
            .ConfigureAwait(false);
        return bytes is null ? null : Parse(Pb.V2.Message.Parser, bytes, DialRequestProtocol);
    }

    /// <summary>Reads one <c>/libp2p/autonat/2/dial-back</c> message of type <typeparamref name="T"/>; null when the peer closed first.</summary>
    public static async ValueTask<T?> ReadDialBackAsync<T>(PipeReader input, MessageParser<T> parser, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        byte[]? bytes = await input.ReadLengthPrefixedAsync(AutoNatLimits.MaxDialBackMessageLength, DialBackProtocol, cancellationToken)
            .ConfigureAwait(false);
        return bytes is null ? null : Parse(parser, bytes, DialBackProtocol);
    }

    /// <summary>Reads one <c>/libp2p/autonat/1.0.0</c> message; null when the peer closed first.</summary>
    public static async ValueTask<Pb.V1.Message?> ReadV1Async(PipeReader input, CancellationToken cancellationToken)
    {
        byte[]? bytes = await input.ReadLengthPrefixedAsync(AutoNatLimits.MaxMessageLength, V1Protocol, cancellationToken)
            .ConfigureAwait(false);
        return bytes is null ? null : Parse(Pb.V1.Message.Parser, bytes, V1Protocol);
    }

    public static T Parse<T>(MessageParser<T> parser, ReadOnlySpan<byte> bytes, string protocolId)
        where T : IMessage<T>
    {
        if (bytes.Length > AutoNatLimits.MaxMessageLength)
            throw new OversizedMessageException(protocolId, (ulong)bytes.Length, AutoNatLimits.MaxMessageLength);
        try
        {
            return parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(protocolId, "malformed AutoNAT message: " + e.Message, e);
        }
    }

    /// <summary>What a peer or the network can make a check fail with (as opposed to a bug here).</summary>
    public static bool IsPeerFailure(Exception e) =>
        e is ProtocolViolationException or IOException or PeerNotConnectedException or TimeoutException or ObjectDisposedException;

    public static ValueTask WriteAsync(PipeWriter output, IMessage message, CancellationToken cancellationToken) =>
        output.WriteLengthPrefixedAsync(message.ToByteArray(), cancellationToken);
}
