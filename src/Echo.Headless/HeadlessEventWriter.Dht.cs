using System.Globalization;
using Echo.Core.Events;

namespace Echo.Headless;

/// <summary>The DHT's numbers, as a headless line.</summary>
internal static partial class HeadlessEventWriter
{
    private static string Dht(DhtEvent dht) => Line(w =>
    {
        w.WriteString("type", "dht");
        w.WriteString("mode", dht.Status.Mode);
        w.WriteNumber("routingTable", dht.Status.RoutingTableSize);
        w.WriteNumber("peersFound", dht.Status.PeersFound);
        w.WriteStartArray("roomsFound");
        foreach (string room in dht.Status.RoomsFound)
            w.WriteStringValue(room);
        w.WriteEndArray();
        if (dht.Requested)
        {
            w.WriteBoolean("requested", true);
            w.WriteStartArray("lookups");
            foreach (Echo.Core.Ports.DhtLookup lookup in dht.Status.Lookups)
            {
                w.WriteStartObject();
                w.WriteString("kind", lookup.Kind);
                w.WriteString("started", lookup.Started.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
                w.WriteNumber("ms", Math.Round(lookup.Duration.TotalMilliseconds, 1));
                w.WriteNumber("messages", lookup.Messages);
                w.WriteNumber("peersQueried", lookup.PeersQueried);
                w.WriteNumber("found", lookup.Found);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
    });
}
