using Echo.Net.Identity;
using Echo.Net.Pubsub;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols.Rooms;

/// <summary>
/// A room's messages as gossipsub hands them over: the topic's validator decodes each one once
/// and keeps the result on the message (<see cref="PubsubMessage.ValidatorData"/>); the room's
/// pump takes it from there instead of decoding the JSON again.
/// </summary>
internal static class RoomChannel
{
    /// <summary>
    /// The topic validator: accepts a message whose JSON decodes and whose <c>SenderID</c> is its
    /// signed author, and keeps the decoded <see cref="RoomMessage"/> on it.
    /// </summary>
    public static ValidationResult Validate(string topic, PubsubMessage message, ILogger logger)
    {
        if (Decode(topic, message, logger) is not { } decoded)
            return ValidationResult.Reject;
        message.ValidatorData = decoded;
        return ValidationResult.Accept;
    }

    /// <summary>
    /// The room message a delivered pubsub message carries: what the validator decoded, or (for a
    /// copy validated before the room's validator was added) decoded and checked here; null when it
    /// is not a valid room message.
    /// </summary>
    public static RoomMessage? Decoded(string topic, PubsubMessage message, ILogger logger) =>
        message.ValidatorData as RoomMessage ?? Decode(topic, message, logger);

    private static RoomMessage? Decode(string topic, PubsubMessage message, ILogger logger)
    {
        try
        {
            RoomMessage decoded = RoomMessageCodec.Decode(message.Data.Span);
            if (!PeerId.TryParse(decoded.SenderId, out PeerId? sender) || sender != message.From)
            {
                Log.RoomMessageRejected(logger, message.From, topic, "SenderID is not the signed author");
                return null;
            }
            return decoded;
        }
        catch (RoomMessageFormatException e)
        {
            Log.RoomMessageRejected(logger, message.From, topic, e.Message);
            return null;
        }
    }
}
