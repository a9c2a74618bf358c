using System.Buffers.Binary;
using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Net.Identity;
using Echo.Net.Pubsub;

namespace Echo.Protocols.Rooms;

/// <summary>
/// A room message with its author's pubsub signature, as Core keeps it (<see cref="SignedEnvelope"/>),
/// and the checks that make a stored or fetched envelope a message again: the libp2p pubsub
/// signature over <c>"libp2p-pubsub:" || Message{from, data, seqno, topic}</c> with the room's topic
/// (<see cref="PubsubMessage.Verify"/>), and the JSON's <c>SenderID</c> equal to the signer.
/// </summary>
public static class SignedRoomMessage
{
    /// <summary>A room message's id: <c>&lt;from&gt;:&lt;seqno as 16 hex digits&gt;</c>.</summary>
    public static string MessageId(PeerId from, ulong seqno) => $"{from}:{seqno:x16}";

    /// <summary>The envelope of a message the router verified (or we signed).</summary>
    public static SignedEnvelope Envelope(PubsubMessage message) =>
        new(message.From.ToBytes(), message.SeqnoBytes(), message.Data.ToArray(), message.Signature.ToArray(),
            message.Key?.ToArray() ?? []);

    /// <summary>
    /// Verifies <paramref name="envelope"/> as a message of <paramref name="room"/> and decodes it;
    /// null with the reason when the signature, the JSON or the author does not hold.
    /// <paramref name="fallbackTime"/> is its time when the author gave none.
    /// </summary>
    public static ChatMessage? Open(string room, SignedEnvelope envelope, DateTimeOffset fallbackTime, out string? error)
    {
        if (!PubsubMessage.Verify(envelope.From, envelope.Data, envelope.Seqno, RoomTopic.ForRoom(room), envelope.Signature,
                envelope.Key, out error))
            return null;
        if (!PeerId.TryFromBytes(envelope.From, out PeerId? from) || from is null)
        {
            error = "from is not a peer id";
            return null;
        }
        RoomMessage decoded;
        try
        {
            decoded = RoomMessageCodec.Decode(envelope.Data);
        }
        catch (RoomMessageFormatException e)
        {
            error = e.Message;
            return null;
        }
        if (!PeerId.TryParse(decoded.SenderId, out PeerId? sender) || sender != from)
        {
            error = "SenderID is not the signed author";
            return null;
        }
        string author = from.ToString();
        return new ChatMessage(MessageId(from, BinaryPrimitives.ReadUInt64BigEndian(envelope.Seqno)), room, author,
            decoded.SenderNick ?? PeerInfo.ShortPeerId(author), decoded.Text, decoded.Timestamp ?? fallbackTime, MessageOrigin.Room)
        {
            Envelope = envelope,
            Action = decoded.Action,
        };
    }

    /// <summary>
    /// True when <paramref name="message"/> carries an envelope that verifies as its author's message
    /// in its room, with the same id, author and text (for a stored message read back).
    /// </summary>
    public static bool Verify(ChatMessage message) =>
        message.Envelope is { } envelope
        && Open(message.Room, envelope, message.Timestamp, out _) is { } opened
        && opened.Id == message.Id && opened.SenderId == message.SenderId && opened.Text == message.Text
        && opened.Action == message.Action;
}
