using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Headless;

/// <summary>
/// Turns chat events into the headless mode's output: one JSON object per line. Strings are JSON
/// escaped, so control characters from the network arrive as <c>\u001b</c> and never raw.
/// </summary>
internal static partial class HeadlessEventWriter
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The first line: who we are and where peers can reach us.</summary>
    public static string Ready(string peerId, IReadOnlyList<string> addresses) => Line(w =>
    {
        w.WriteString("type", "ready");
        w.WriteString("peerId", peerId);
        w.WriteStartArray("addrs");
        foreach (string address in addresses)
            w.WriteStringValue(address);
        w.WriteEndArray();
    });

    /// <summary>The line for <paramref name="chatEvent"/>, or null for events headless mode does not report.</summary>
    public static string? Format(ChatEvent chatEvent) => chatEvent switch
    {
        MessageEvent m => Line(w =>
        {
            ChatMessage message = m.Message;
            w.WriteString("type", "message");
            w.WriteString("room", message.Room);
            w.WriteString("from", message.SenderId);
            w.WriteString("nick", message.SenderNick);
            if (message.SenderTag is not null)
                w.WriteString("tag", message.SenderTag);
            w.WriteString("text", message.Text);
            w.WriteString("ts", message.Timestamp.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            w.WriteString("id", message.Id);
            w.WriteString("origin", message.Origin switch
            {
                MessageOrigin.Local => "self",
                MessageOrigin.EchoGo => "echo-go",
                _ => "room",
            });
            if (message.FromHistory)
                w.WriteBoolean("history", true);
            if (message.ClockClamped)
                w.WriteBoolean("clockClamped", true);
            if (message.NotSaved)
                w.WriteBoolean("notSaved", true);
            if (message.Action)
                w.WriteBoolean("action", true);
        }),
        PeerConnectedEvent c => Peer("connected", c.Peer),
        PeerDisconnectedEvent d => Peer("disconnected", d.Peer),
        PeerUpdatedEvent u => Peer(u.Peer.IsAway ? "reconnecting" : "updated", u.Peer),
        RoomJoinedEvent j => Line(w => { w.WriteString("type", "joined"); w.WriteString("room", j.Room); }),
        RoomLeftEvent l => Line(w => { w.WriteString("type", "left"); w.WriteString("room", l.Room); }),
        CurrentRoomChangedEvent r => Line(w => { w.WriteString("type", "current"); w.WriteString("room", r.Room); }),
        RoomsReorderedEvent o => Line(w =>
        {
            w.WriteString("type", "rooms");
            w.WriteStartArray("rooms");
            foreach (string room in o.Rooms)
                w.WriteStringValue(room);
            w.WriteEndArray();
        }),
        NickChangedEvent n => Line(w => { w.WriteString("type", "nick"); w.WriteString("nick", n.NewNick); }),
        WhoisEvent or ClearEvent => FormatIrc(chatEvent),
        FileWaitingEvent or RelaysEvent => FormatRelayed(chatEvent),
        NoticeEvent n => Line(w => { w.WriteString("type", "notice"); w.WriteString("text", n.Text); }),
        ErrorEvent e => Line(w => { w.WriteString("type", "error"); w.WriteString("message", e.Message); }),
        WebUiStartedEvent web => Line(w =>
        {
            w.WriteString("type", "web");
            w.WriteString("url", web.Url);
            if (web.Remote)
                w.WriteBoolean("remote", true);
        }),
        StatsEvent stats => Stats(stats.Stats),
        ReachabilityEvent r => Reachability(r),
        AddressesEvent a => Addresses(a.Addresses),
        DhtEvent d => Dht(d),
        _ => FormatDirect(chatEvent),
    };

    /// <summary>The answer to /stats: counts a network does not know are left out.</summary>
    private static string Stats(NodeStats stats) => Line(w =>
    {
        w.WriteString("type", "stats");
        w.WriteNumber("connectionsIn", stats.ConnectionsIn);
        w.WriteNumber("connectionsOut", stats.ConnectionsOut);
        if (stats.Streams is { } streams)
            w.WriteNumber("streams", streams);
        if (stats.MemoryInUse is { } used)
            w.WriteNumber("memoryInUse", used);
        if (stats.MemoryBudget is { } budget)
            w.WriteNumber("memoryBudget", budget);
        if (stats.BootstrapConnected is { } bootstrapConnected)
        {
            w.WriteNumber("bootstrapConnected", bootstrapConnected);
            w.WriteNumber("bootstrapPeers", stats.BootstrapPeers ?? 0);
        }
        if (stats.DhtProviderRecords is { } providerRecords)
            w.WriteNumber("dhtProviderRecords", providerRecords);
        w.WriteStartObject("refused");
        foreach ((string name, long count) in stats.Refused.OrderBy(r => r.Key, StringComparer.Ordinal))
            w.WriteNumber(name, count);
        w.WriteEndObject();
    });

    /// <summary>Direct messages and file sharing.</summary>
    private static string? FormatDirect(ChatEvent chatEvent) => chatEvent switch
    {
        DirectMessageEvent { Message: var m } => Line(w =>
        {
            w.WriteString("type", m.Outgoing ? "dm-sent" : "dm");
            w.WriteString(m.Outgoing ? "to" : "from", m.PeerId);
            w.WriteString("nick", m.Nick);
            w.WriteString("text", m.Text);
            w.WriteString("ts", m.Timestamp.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            w.WriteString("id", m.Id);
            if (m.NotSaved)
                w.WriteBoolean("notSaved", true);
            if (m.Action)
                w.WriteBoolean("action", true);
        }),
        DirectDeliveredEvent d => Line(w => { w.WriteString("type", "dm-ack"); w.WriteString("to", d.PeerId); w.WriteString("id", d.Id); }),
        FileOfferEvent o => Line(w =>
        {
            w.WriteString("type", "file-offer");
            WriteOffer(w, o.Offer);
            w.WriteString("from", o.FromPeerId);
            w.WriteString("nick", o.FromNick);
            if (o.Room is not null)
                w.WriteString("room", o.Room);
        }),
        FileOfferedEvent o => Line(w =>
        {
            w.WriteString("type", "file-offered");
            WriteOffer(w, o.Offer);
            if (o.Room is not null)
                w.WriteString("room", o.Room);
            if (o.To is not null)
                w.WriteString("to", o.To);
        }),
        FileProgressEvent p => Line(w =>
        {
            w.WriteString("type", "file-progress");
            w.WriteString("id", p.Id);
            w.WriteNumber("bytes", p.Bytes);
            w.WriteNumber("size", p.Size);
            w.WriteNumber("rate", Math.Round(p.BytesPerSecond));
        }),
        FileResumedEvent r => Line(w =>
        {
            w.WriteString("type", "file-resume");
            w.WriteString("id", r.Id);
            w.WriteNumber("offset", r.Offset);
            w.WriteNumber("size", r.Size);
        }),
        FileDoneEvent d => Line(w =>
        {
            w.WriteString("type", "file-done");
            w.WriteString("id", d.Id);
            w.WriteString("path", d.Path);
            w.WriteString("sha256", d.Sha256);
        }),
        FileErrorEvent e => Line(w => { w.WriteString("type", "file-error"); w.WriteString("id", e.Id); w.WriteString("message", e.Message); }),
        _ => null,
    };

    private static void WriteOffer(Utf8JsonWriter w, Core.Files.FileOffer offer)
    {
        w.WriteString("id", offer.Id);
        w.WriteString("name", offer.Name);
        w.WriteNumber("size", offer.Size);
        w.WriteString("sha256", offer.Sha256);
    }

    private static string Peer(string change, PeerInfo peer) => Line(w =>
    {
        w.WriteString("type", "peer");
        w.WriteString("event", change);
        w.WriteString("peerId", peer.PeerId);
        w.WriteString("address", peer.Address);
        w.WriteString("source", peer.Source.ToString().ToLowerInvariant());
        if (peer.Nick is not null)
            w.WriteString("nick", peer.Nick);
        if (peer.SharedNick)
            w.WriteString("tag", PeerInfo.IdTag(peer.PeerId));
        if (peer.RoundTrip is { } rtt)
            w.WriteNumber("rttMs", Math.Round(rtt.TotalMilliseconds, 3));
        if (peer.IsEchoGo)
            w.WriteBoolean("echoGo", true);
        if (peer.AwayReason is not null)
            w.WriteString("awayMessage", peer.AwayReason);
        WriteVia(w, peer);
        if (peer.ReconnectAt is { } at)
        {
            w.WriteString("reconnectAt", at.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("lastSeen", peer.ConnectedSince.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
        }
    });

    private static string Line(Action<Utf8JsonWriter> body)
    {
        ArrayBufferWriter<byte> buffer = new(256);
        using (Utf8JsonWriter writer = new(buffer, Options))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
