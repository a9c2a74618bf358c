using System.Text.Json;
using System.Text.Json.Serialization;
using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;

namespace Echo.Web;

/// <summary>
/// The page's protocol: one JSON object per WebSocket text message, each with a <c>type</c>. The
/// server sends a <c>snapshot</c> first, then the events in the shapes of headless mode (message,
/// peer, joined, left, current, nick, notice, error, quit). The page ignores types it does not know,
/// so new kinds of events can be added without breaking it.
/// </summary>
internal static class WebJson
{
    /// <summary>Version of this protocol, in the snapshot.</summary>
    public const int Version = 1;

    /// <summary>Everything a page needs to draw the chat, taken after subscribing (the page drops what it sees twice).</summary>
    public static byte[] Snapshot(ChatManager chat)
    {
        IReadOnlyList<string> rooms = chat.Rooms;
        SnapshotJson snapshot = new(
            "snapshot",
            Version,
            chat.LocalPeerId,
            [.. chat.ListenAddresses],
            chat.Nick,
            chat.CurrentRoom,
            [.. rooms],
            [.. chat.Peers.Select(p => Peer(null, p))],
            [.. rooms.SelectMany(chat.RecentMessages).Select(Message)]);
        return JsonSerializer.SerializeToUtf8Bytes(snapshot, WebJsonContext.Default.SnapshotJson);
    }

    /// <summary>The JSON for <paramref name="chatEvent"/>, or null for events the page is not told about.</summary>
    public static byte[]? Event(ChatEvent chatEvent) => chatEvent switch
    {
        MessageEvent m => Serialize(Message(m.Message), WebJsonContext.Default.MessageJson),
        PeerConnectedEvent c => Serialize(Peer("connected", c.Peer), WebJsonContext.Default.PeerJson),
        PeerDisconnectedEvent d => Serialize(Peer("disconnected", d.Peer), WebJsonContext.Default.PeerJson),
        PeerUpdatedEvent u => Serialize(Peer("updated", u.Peer), WebJsonContext.Default.PeerJson),
        RoomJoinedEvent j => Room("joined", j.Room),
        RoomLeftEvent l => Room("left", l.Room),
        CurrentRoomChangedEvent r => Room("current", r.Room),
        NickChangedEvent n => Serialize(new NickJson("nick", n.NewNick), WebJsonContext.Default.NickJson),
        NoticeEvent n => Notice(n.Text),
        ErrorEvent e => Error(e.Message),
        QuitEvent => Serialize(new TypeJson("quit"), WebJsonContext.Default.TypeJson),
        _ => null,
    };

    /// <summary>An error for one page only (a request it sent was malformed).</summary>
    public static byte[] Error(string message) => Serialize(new ErrorJson("error", message), WebJsonContext.Default.ErrorJson);

    private static byte[] Notice(string text) => Serialize(new NoticeJson("notice", text), WebJsonContext.Default.NoticeJson);

    private static byte[] Room(string type, string room) => Serialize(new RoomJson(type, room), WebJsonContext.Default.RoomJson);

    private static MessageJson Message(ChatMessage message) => new(
        "message",
        message.Room,
        message.SenderId,
        message.SenderNick,
        message.Text,
        message.Timestamp.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ"),
        message.Id,
        message.Origin switch
        {
            MessageOrigin.Local => "self",
            MessageOrigin.EchoGo => "echo-go",
            _ => "room",
        });

    private static PeerJson Peer(string? change, PeerInfo peer) => new(
        change is null ? null : "peer",
        change,
        peer.PeerId,
        peer.Address,
        peer.Source.ToString().ToLowerInvariant(),
        peer.Nick,
        peer.RoundTrip is { } rtt ? Math.Round(rtt.TotalMilliseconds, 3) : null,
        peer.IsEchoGo ? true : null);

    private static byte[] Serialize<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        JsonSerializer.SerializeToUtf8Bytes(value, type);
}

internal sealed record TypeJson(string Type);

internal sealed record RoomJson(string Type, string Room);

internal sealed record NickJson(string Type, string Nick);

internal sealed record NoticeJson(string Type, string Text);

internal sealed record ErrorJson(string Type, string Message);

internal sealed record MessageJson(string Type, string Room, string From, string Nick, string Text, string Ts, string Id, string Origin);

internal sealed record PeerJson(string? Type, string? Event, string PeerId, string Address, string Source, string? Nick, double? RttMs, bool? EchoGo);

internal sealed record SnapshotJson(
    string Type,
    int Version,
    string PeerId,
    string[] Addrs,
    string Nick,
    string? Room,
    string[] Rooms,
    PeerJson[] Peers,
    MessageJson[] Messages);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TypeJson))]
[JsonSerializable(typeof(RoomJson))]
[JsonSerializable(typeof(NickJson))]
[JsonSerializable(typeof(NoticeJson))]
[JsonSerializable(typeof(ErrorJson))]
[JsonSerializable(typeof(MessageJson))]
[JsonSerializable(typeof(PeerJson))]
[JsonSerializable(typeof(SnapshotJson))]
internal sealed partial class WebJsonContext : JsonSerializerContext;
