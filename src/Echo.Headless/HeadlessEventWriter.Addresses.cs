using Echo.Core.Ports;

namespace Echo.Headless;

/// <summary>The node's addresses (/addrs, and every change of the advertised ones), as a headless line.</summary>
internal static partial class HeadlessEventWriter
{
    private static string Addresses(NodeAddresses addresses) => Line(w =>
    {
        w.WriteString("type", "addrs");
        w.WriteStartArray("listen");
        foreach (string address in addresses.Listen)
            w.WriteStringValue(address);
        w.WriteEndArray();
        w.WriteStartArray("observed");
        foreach (ObservedNodeAddress observed in addresses.Observed)
        {
            w.WriteStartObject();
            w.WriteString("addr", observed.Address);
            w.WriteNumber("observers", observed.Observers);
            w.WriteBoolean("trusted", observed.Trusted);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("advertised");
        foreach (string address in addresses.Advertised)
            w.WriteStringValue(address);
        w.WriteEndArray();
    });
}
