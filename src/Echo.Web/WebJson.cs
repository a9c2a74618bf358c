using System.Text.Json;
using System.Text.Json.Serialization;
using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Conversations;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;

namespace Echo.Web;

/// <summary>
/// The page's protocol: one JSON object per WebSocket text message, each with a <c>type</c>. The
/// server sends a <c>snapshot</c> first, then the events in the shapes of headless mode (message,
/// peer, joined, left, current, nick, notice, error, quit, dm, dm-sent, dm-ack, file-offer,
/// file-offered, file-progress, file-resume, file-done, file-error, reachability), and <c>older</c> in answer to a
/// page's request for history. Messages, direct messages, acknowledgements and offers carry the
/// <c>conversation</c> they belong to (<see cref="ConversationId.Key"/>), and a message event the id
/// of the message it follows in Core's log (<c>after</c>), so the page draws Core's order instead of
/// working one out. The page ignores types it does not know, so new kinds of events can be added
/// without breaking it.
/// </summary>
internal static class WebJson
{
    /// <summary>Version of this protocol, in the snapshot.</summary>
    public const int Version = 2;

    /// <summary>Everything a page needs to draw the chat (for /api/state).</summary>
    public static Task<byte[]> SnapshotAsync(ChatManager chat, CancellationToken cancellationToken) =>
        SnapshotAsync(chat, new HashSet<string>(StringComparer.Ordinal), cancellationToken);

    /// <summary>
    /// Everything a page needs to draw the chat, taken after subscribing; the ids of the messages in it
    /// (<see cref="ShownKey"/>) are added to <paramref name="shown"/>, so their events are not sent again.
    /// </summary>
    public static async Task<byte[]> SnapshotAsync(ChatManager chat, ISet<string> shown, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> rooms = chat.Rooms;
        IReadOnlyList<DirectMessage> direct = await chat.RecentDirectMessagesAsync(cancellationToken).ConfigureAwait(false);
        SnapshotJson snapshot = new(
            "snapshot",
            Version,
            chat.LocalPeerId,
            [.. chat.ListenAddresses],
            chat.Nick,
            chat.CurrentRoom,
            [.. rooms],
            [.. chat.Peers.Select(p => Peer(null, p))],
            [.. rooms.SelectMany(chat.RecentMessages).Select(Message)],
            [.. direct.Select(Direct)],
            [.. chat.FileOffers.Select(KnownOffer)],
            chat.DownloadsDirectory)
        {
            Reachability = chat.Reachability is { } reachability ? Reachability(reachability) : null,
            Dht = chat.Dht is { } dht ? Dht(new DhtEvent(dht, Requested: false)) : null,
            Relays = [.. chat.RelaysInUse],
        };
        foreach (MessageJson message in snapshot.Messages)
            shown.Add(ShownKey(message.Conversation!, message.Id));
        foreach (DirectJson message in snapshot.Dms)
            shown.Add(ShownKey(message.Conversation!, message.Id));
        return JsonSerializer.SerializeToUtf8Bytes(snapshot, WebJsonContext.Default.SnapshotJson);
    }

    /// <summary>A message's key in the set of those a page was already sent: its conversation and id.</summary>
    public static string ShownKey(ConversationId conversation, string id) => ShownKey(conversation.Key, id);

    private static string ShownKey(string conversation, string id) => conversation + "/" + id;

    /// <summary>The answer to an "older" request: stored messages of <paramref name="room"/>, oldest first.</summary>
    public static byte[] Older(string room, IReadOnlyList<ChatMessage> messages, bool more) =>
        Serialize(new OlderJson("older", room, [.. messages.Select(Message)], more), WebJsonContext.Default.OlderJson);

    /// <summary>The JSON for <paramref name="chatEvent"/>, or null for events the page is not told about.</summary>
    public static byte[]? Event(ChatEvent chatEvent) => chatEvent switch
    {
        MessageEvent m => Serialize(Message(m.Message) with { After = m.After }, WebJsonContext.Default.MessageJson),
        PeerConnectedEvent c => Serialize(Peer("connected", c.Peer), WebJsonContext.Default.PeerJson),
        PeerDisconnectedEvent d => Serialize(Peer("disconnected", d.Peer), WebJsonContext.Default.PeerJson),
        PeerUpdatedEvent u => Serialize(Peer(u.Peer.IsAway ? "reconnecting" : "updated", u.Peer), WebJsonContext.Default.PeerJson),
        RoomJoinedEvent j => Room("joined", j.Room),
        RoomLeftEvent l => Room("left", l.Room),
        CurrentRoomChangedEvent r => Room("current", r.Room),
        RoomsReorderedEvent o => Serialize(new RoomsJson("rooms", [.. o.Rooms]), WebJsonContext.Default.RoomsJson),
        NickChangedEvent n => Serialize(new NickJson("nick", n.NewNick), WebJsonContext.Default.NickJson),
        NoticeEvent n => Notice(n.Text),
        ErrorEvent e => Error(e.Message),
        QuitEvent => Serialize(new TypeJson("quit"), WebJsonContext.Default.TypeJson),
        ReachabilityEvent r => Serialize(Reachability(r), WebJsonContext.Default.ReachabilityJson),
        DhtEvent d => Serialize(Dht(d), WebJsonContext.Default.DhtJson),
        RelaysEvent r => Serialize(new RelaysJson("relays", [.. r.Relays]), WebJsonContext.Default.RelaysJson),
        _ => DirectEvent(chatEvent),
    };

    /// <summary>Direct messages and file sharing, as headless mode reports them.</summary>
    private static byte[]? DirectEvent(ChatEvent chatEvent) => chatEvent switch
    {
        DirectMessageEvent d => Serialize(Direct(d.Message), WebJsonContext.Default.DirectJson),
        DirectDeliveredEvent a => Serialize(new DirectAckJson("dm-ack", a.PeerId, a.Id, ConversationId.Direct(a.PeerId).Key),
            WebJsonContext.Default.DirectAckJson),
        FileOfferEvent o => Serialize(Offer("file-offer", o.Offer, o.FromPeerId, o.FromNick, o.Room, null), WebJsonContext.Default.FileJson),
        FileOfferedEvent o => Serialize(Offer("file-offered", o.Offer, null, null, o.Room, o.To), WebJsonContext.Default.FileJson),
        FileProgressEvent p => Serialize(new FileProgressJson("file-progress", p.Id, p.Bytes, p.Size, Math.Round(p.BytesPerSecond)),
            WebJsonContext.Default.FileProgressJson),
        FileResumedEvent r => Serialize(new FileResumeJson("file-resume", r.Id, r.Offset, r.Size), WebJsonContext.Default.FileResumeJson),
        FileDoneEvent d => Serialize(new FileDoneJson("file-done", d.Id, d.Path, d.Sha256), WebJsonContext.Default.FileDoneJson),
        FileErrorEvent e => Serialize(new FileErrorJson("file-error", e.Id, e.Message), WebJsonContext.Default.FileErrorJson),
        _ => null,
    };

    private static ReachabilityJson Reachability(ReachabilityEvent r) => new("reachability", r.StatusText, [.. r.Addresses]);

    private static DhtJson Dht(DhtEvent d) => new("dht", d.Status.Mode, d.Status.RoutingTableSize, d.Status.PeersFound, [.. d.Status.RoomsFound]);

    private static DirectJson Direct(DirectMessage m) => new(
        m.Outgoing ? "dm-sent" : "dm",
        m.Outgoing ? null : m.PeerId,
        m.Outgoing ? m.PeerId : null,
        m.Nick,
        m.Text,
        Time(m.Timestamp),
        m.Id,
        m.Outgoing && m.Delivered ? true : null,
        m.NotSaved ? true : null,
        ConversationId.Direct(m.PeerId).Key,
        m.Action ? true : null);

    private static FileJson Offer(string type, FileOffer offer, string? from, string? nick, string? room, string? to)
    {
        string? peer = from ?? to;
        string? conversation = room is not null ? ConversationId.Room(room).Key : peer is not null ? ConversationId.Direct(peer).Key : null;
        return new(type, offer.Id, offer.Name, offer.Size, offer.Sha256, from, nick, room, to, null, null, null, conversation);
    }

    private static FileJson KnownOffer(KnownFileOffer known) =>
        Offer("file-offer", known.Offer, known.FromPeerId, known.FromNick, known.Room, null) with
        {
            Downloading = known.Downloading && known.SavedAs is null ? true : null,
            Path = known.SavedAs,
            Ts = Time(known.Received),
        };

    private static string Time(DateTimeOffset time) =>
        time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);

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
        Time(message.Timestamp),
        message.Id,
        message.Origin switch
        {
            MessageOrigin.Local => "self",
            MessageOrigin.EchoGo => "echo-go",
            _ => "room",
        },
        message.FromHistory ? true : null,
        message.ClockClamped ? true : null, message.NotSaved ? true : null, message.SenderTag, ConversationId.Room(message.Room).Key,
        Action: message.Action ? true : null);

    private static PeerJson Peer(string? change, PeerInfo peer) => new(
        change is null ? null : "peer",
        change,
        peer.PeerId,
        peer.Address,
        peer.Source.ToString().ToLowerInvariant(),
        peer.Nick,
        peer.RoundTrip is { } rtt ? Math.Round(rtt.TotalMilliseconds, 3) : null,
        peer.IsEchoGo ? true : null,
        peer.ReconnectAt?.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture),
        peer.SharedNick ? PeerInfo.IdTag(peer.PeerId) : null, peer.AwayReason,
        peer.IsAway ? null : peer.Via, peer.Relayed ? peer.RelayReason : null);

    private static byte[] Serialize<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        JsonSerializer.SerializeToUtf8Bytes(value, type);
}

internal sealed record TypeJson(string Type);

internal sealed record RoomJson(string Type, string Room);

internal sealed record RoomsJson(string Type, string[] Rooms);

internal sealed record NickJson(string Type, string Nick);

internal sealed record NoticeJson(string Type, string Text);

internal sealed record ErrorJson(string Type, string Message);

internal sealed record MessageJson(string Type, string Room, string From, string Nick, string Text, string Ts, string Id, string Origin,
    bool? History, bool? ClockClamped = null, bool? NotSaved = null, string? Tag = null, string? Conversation = null, string? After = null,
    bool? Action = null);

internal sealed record OlderJson(string Type, string Room, MessageJson[] Messages, bool More);

internal sealed record DirectJson(string Type, string? From, string? To, string Nick, string Text, string Ts, string Id, bool? Delivered,
    bool? NotSaved = null, string? Conversation = null, bool? Action = null);

internal sealed record DirectAckJson(string Type, string To, string Id, string? Conversation = null);

internal sealed record FileJson(string Type, string Id, string Name, long Size, string Sha256, string? From, string? Nick, string? Room,
    string? To, bool? Downloading, string? Path, string? Ts, string? Conversation = null);

internal sealed record FileProgressJson(string Type, string Id, long Bytes, long Size, double Rate);

internal sealed record FileResumeJson(string Type, string Id, long Offset, long Size);

internal sealed record FileDoneJson(string Type, string Id, string Path, string Sha256);

internal sealed record FileErrorJson(string Type, string Id, string Message);

internal sealed record PeerJson(string? Type, string? Event, string PeerId, string Address, string Source, string? Nick, double? RttMs, bool? EchoGo,
    string? ReconnectAt = null, string? Tag = null, string? AwayMessage = null, string? Via = null, string? RelayReason = null);

internal sealed record SnapshotJson(
    string Type,
    int Version,
    string PeerId,
    string[] Addrs,
    string Nick,
    string? Room,
    string[] Rooms,
    PeerJson[] Peers,
    MessageJson[] Messages,
    DirectJson[] Dms,
    FileJson[] Files,
    string? Downloads)
{
    /// <summary>The node's reachability, when the network checks it.</summary>
    public ReachabilityJson? Reachability { get; init; }

    /// <summary>The DHT's numbers, when the network runs one.</summary>
    public DhtJson? Dht { get; init; }
    /// <summary>The relays the node holds a reservation on (empty for none).</summary>
    public string[] Relays { get; init; } = [];
}

internal sealed record ReachabilityJson(string Type, string Status, string[] Addrs);

/// <summary>The DHT, as the headless <c>dht</c> event without the lookups (/dht answers with a notice).</summary>
internal sealed record DhtJson(string Type, string Mode, int RoutingTable, int PeersFound, string[] RoomsFound);
internal sealed record RelaysJson(string Type, string[] Relays);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TypeJson))]
[JsonSerializable(typeof(RoomJson))]
[JsonSerializable(typeof(RoomsJson))]
[JsonSerializable(typeof(NickJson))]
[JsonSerializable(typeof(NoticeJson))]
[JsonSerializable(typeof(ErrorJson))]
[JsonSerializable(typeof(MessageJson))]
[JsonSerializable(typeof(PeerJson))]
[JsonSerializable(typeof(SnapshotJson))]
[JsonSerializable(typeof(OlderJson))]
[JsonSerializable(typeof(DirectJson))]
[JsonSerializable(typeof(DirectAckJson))]
[JsonSerializable(typeof(FileJson))]
[JsonSerializable(typeof(FileProgressJson))]
[JsonSerializable(typeof(FileResumeJson))]
[JsonSerializable(typeof(FileDoneJson))]
[JsonSerializable(typeof(FileErrorJson))]
[JsonSerializable(typeof(ReachabilityJson))]
[JsonSerializable(typeof(DhtJson))]
[JsonSerializable(typeof(RelaysJson))]
internal sealed partial class WebJsonContext : JsonSerializerContext;
