using System.Text;
using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Files;
using Echo.Protocols.Files;

namespace Echo.Protocols.Rooms;

/// <summary>
/// The room message wire format: the JSON object <c>{"Message","SenderID","SenderNick"}</c> of
/// go-libp2p's pubsub chat example, plus an optional <c>"Timestamp"</c> in unix milliseconds.
/// Unknown fields are ignored; a Timestamp that is not an integer in range is treated as absent.
/// A <c>/me</c> action is the readable <c>"Message":"* nick action"</c> with <c>"Action":true</c>
/// (<see cref="ChatAction"/>): readers without the flag show the readable text.
/// </summary>
public static class RoomMessageCodec
{
    /// <summary>
    /// Data larger than this is refused before parsing. A valid message is far smaller: 4 KiB of text
    /// is at most 24 KiB even if every byte were escaped as <c>\u00XX</c>.
    /// </summary>
    public const int MaxPayloadBytes = 64 * 1024;

    private static readonly long MinUnixMs = DateTimeOffset.MinValue.ToUnixTimeMilliseconds();
    private static readonly long MaxUnixMs = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    /// <summary>Encodes a message; the caller has checked text and nick against <see cref="ChatLimits"/>.</summary>
    public static byte[] Encode(string text, string senderId, string senderNick, DateTimeOffset timestamp, FileOffer? file = null) =>
        JsonSerializer.SerializeToUtf8Bytes(new RoomMessageOut
        {
            Message = text,
            SenderID = senderId,
            SenderNick = senderNick,
            Timestamp = timestamp.ToUnixTimeMilliseconds(),
            File = file is null ? null : new RoomFileOut
            {
                Id = file.Id, Name = file.Name, Size = file.Size, Sha256 = file.Sha256,
                Addrs = file.Addresses is { Count: > 0 } addresses ? addresses : null,
            },
        }, RoomMessageJson.Default.RoomMessageOut);

    /// <summary>
    /// Encodes <paramref name="senderNick"/>'s <c>/me</c> <paramref name="action"/>: the readable
    /// <c>* nick action</c> as the message, flagged with <c>"Action":true</c>; the caller has checked
    /// it with <see cref="ChatAction.Check"/>.
    /// </summary>
    public static byte[] EncodeAction(string action, string senderId, string senderNick, DateTimeOffset timestamp) =>
        JsonSerializer.SerializeToUtf8Bytes(new RoomMessageOut
        {
            Message = ChatAction.Fallback(senderNick, action),
            SenderID = senderId,
            SenderNick = senderNick,
            Timestamp = timestamp.ToUnixTimeMilliseconds(),
            Action = true,
        }, RoomMessageJson.Default.RoomMessageOut);

    /// <summary>Decodes and checks a message's data against the format and the chat limits.</summary>
    /// <exception cref="RoomMessageFormatException">Why the data is not an acceptable room message.</exception>
    public static RoomMessage Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxPayloadBytes)
            throw new RoomMessageFormatException($"{data.Length} bytes is over the {MaxPayloadBytes}-byte limit");
        RoomMessageIn? wire;
        try
        {
            wire = JsonSerializer.Deserialize(data, RoomMessageJson.Default.RoomMessageIn);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            throw new RoomMessageFormatException("not a JSON object: " + e.Message, e);
        }
        if (wire is null)
            throw new RoomMessageFormatException("not a JSON object: null");
        if (string.IsNullOrEmpty(wire.Message))
            throw new RoomMessageFormatException("no Message");
        if (string.IsNullOrEmpty(wire.SenderID))
            throw new RoomMessageFormatException("no SenderID");
        int textBytes = Encoding.UTF8.GetByteCount(wire.Message);
        if (textBytes > ChatLimits.MaxTextBytes)
            throw new RoomMessageFormatException($"Message is {textBytes} bytes; the limit is {ChatLimits.MaxTextBytes}");
        if (wire.SenderNick is { Length: > ChatLimits.MaxNickLength } nick)
            throw new RoomMessageFormatException($"SenderNick is {nick.Length} characters; the limit is {ChatLimits.MaxNickLength}");
        string? senderNick = string.IsNullOrEmpty(wire.SenderNick) ? null : wire.SenderNick;
        // An action flag on a text that is not "* nick …" (or a flag that is not true) is ignored: the text is shown as written.
        string? action = wire.Action is { ValueKind: JsonValueKind.True } ? ChatAction.Open(wire.Message, senderNick) : null;
        return new RoomMessage(action ?? wire.Message, wire.SenderID, senderNick,
            ReadTimestamp(wire.Timestamp), ReadFile(wire.File, wire.SenderID), Action: action is not null);
    }

    /// <summary>
    /// The optional file offer; anything malformed is treated as absent. Its optional <c>Addrs</c>
    /// (the author's addresses) keeps only what <see cref="OfferAddresses.Read"/> accepts.
    /// </summary>
    private static FileOffer? ReadFile(JsonElement? element, string senderId)
    {
        if (element is not { ValueKind: JsonValueKind.Object } file)
            return null;
        string? Text(string name) =>
            file.EnumerateObject().FirstOrDefault(p => p.NameEquals(name) || string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
                .Value is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;
        JsonElement size = file.EnumerateObject().FirstOrDefault(p => string.Equals(p.Name, "Size", StringComparison.OrdinalIgnoreCase)).Value;
        if (Text("Id") is not { } id || Text("Name") is not { } name || Text("Sha256") is not { } sha256
            || size.ValueKind != JsonValueKind.Number || !size.TryGetInt64(out long bytes))
            return null;
        JsonElement addrs = file.EnumerateObject().FirstOrDefault(p => string.Equals(p.Name, "Addrs", StringComparison.OrdinalIgnoreCase)).Value;
        FileOffer offer = new(id, name, bytes, sha256)
        {
            Addresses = addrs.ValueKind == JsonValueKind.Array
                ? OfferAddresses.Read(addrs.EnumerateArray().Select(a => a.ValueKind == JsonValueKind.String ? a.GetString() : null), senderId)
                : null,
        };
        return offer.Problem() is null ? offer : null;
    }

    private static DateTimeOffset? ReadTimestamp(JsonElement? element) =>
        element is { ValueKind: JsonValueKind.Number } number && number.TryGetInt64(out long ms) && ms >= MinUnixMs && ms <= MaxUnixMs
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
            : null;
}
