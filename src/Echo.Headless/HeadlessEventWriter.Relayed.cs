using System.Text.Json;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;

namespace Echo.Headless;

/// <summary>Relayed peers as headless lines: how a peer is reached, the relays in use, transfers waiting for a direct connection.</summary>
internal static partial class HeadlessEventWriter
{
    private static string FormatRelayed(ChatEvent chatEvent) => chatEvent switch
    {
        FileWaitingEvent f => Line(w =>
        {
            w.WriteString("type", "file-waiting");
            w.WriteString("id", f.Id);
            w.WriteString("name", f.Name);
            w.WriteString("peerId", f.PeerId);
            w.WriteString("message", f.Text);
        }),
        RelaysEvent r => Line(w =>
        {
            w.WriteString("type", "relays");
            w.WriteStartArray("relays");
            foreach (string relay in r.Relays)
                w.WriteStringValue(relay);
            w.WriteEndArray();
            w.WriteStartArray("reservations");
            foreach (Core.Ports.RelayReservationInfo reservation in r.Reservations)
            {
                w.WriteStartObject();
                w.WriteString("relay", reservation.Relay);
                w.WriteString("status", "OK");
                if (reservation.LimitDuration is { } duration)
                    w.WriteNumber("limitSeconds", (long)duration.TotalSeconds);
                if (reservation.LimitBytes is { } bytes)
                    w.WriteNumber("limitBytes", bytes);
                w.WriteString("expires", reservation.Expires.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }),
        _ => throw new ArgumentException($"not a relay event: {chatEvent.GetType().Name}", nameof(chatEvent)),
    };

    /// <summary>A connected peer's <c>via</c> (<c>relay</c> or <c>direct</c>) and, when relayed for a known reason, <c>relayReason</c>.</summary>
    private static void WriteVia(Utf8JsonWriter w, PeerInfo peer)
    {
        if (peer.IsAway)
            return;
        w.WriteString("via", peer.Via);
        if (peer is { Relayed: true, RelayReason: { } reason })
            w.WriteString("relayReason", reason);
    }
}
