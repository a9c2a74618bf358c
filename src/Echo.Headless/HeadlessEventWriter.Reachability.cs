using Echo.Core.Events;

namespace Echo.Headless;

/// <summary>The node's reachability, as a headless line.</summary>
internal static partial class HeadlessEventWriter
{
    private static string Reachability(ReachabilityEvent reachability) => Line(w =>
    {
        w.WriteString("type", "reachability");
        w.WriteString("status", reachability.StatusText);
        w.WriteStartArray("addrs");
        foreach (string address in reachability.Addresses)
            w.WriteStringValue(address);
        w.WriteEndArray();
    });
}
