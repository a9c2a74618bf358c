using System.Globalization;
using Echo.Core.Events;
using Echo.Core.Ports;

namespace Echo.Headless;

/// <summary>/whois answers and /clear, as headless lines.</summary>
internal static partial class HeadlessEventWriter
{
    private static string? FormatIrc(ChatEvent chatEvent) => chatEvent switch
    {
        ClearEvent c => Line(w =>
        {
            w.WriteString("type", "clear");
            if (c.Room is not null)
                w.WriteString("room", c.Room);
        }),
        WhoisEvent who => Line(w =>
        {
            w.WriteString("type", "whois");
            w.WriteString("peerId", who.PeerId);
            if (who.Nick is not null)
                w.WriteString("nick", who.Nick);
            if (who.AwayReason is not null)
                w.WriteString("awayMessage", who.AwayReason);
            w.WriteStartArray("connections");
            foreach (PeerConnectionDetails c in who.Connections)
            {
                w.WriteStartObject();
                w.WriteString("address", c.Address);
                w.WriteString("direction", c.Inbound ? "inbound" : "outbound");
                w.WriteBoolean("relayed", c.Relayed);
                w.WriteString("since", Utc(c.OpenedAt));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("addrs");
            foreach (string address in who.Addresses)
                w.WriteStringValue(address);
            w.WriteEndArray();
            if (who.RoundTrip is { } rtt)
                w.WriteNumber("rttMs", Math.Round(rtt.TotalMilliseconds, 3));
            if (who.FirstSeen is { } first)
            {
                w.WriteString("firstSeen", Utc(first));
                if (who.FirstSeenThisRun)
                    w.WriteBoolean("firstSeenThisRun", true);
            }
            w.WriteString("text", who.Text);
        }),
        _ => null,
    };

    private static string Utc(DateTimeOffset time) =>
        time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
