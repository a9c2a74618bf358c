using Echo.Core.Ports;

namespace Echo.Core.Events;

/// <summary>The node's reachability changed (sent on every change while the network checks it).</summary>
public sealed record ReachabilityEvent(NodeReachability Status, IReadOnlyList<string> Addresses) : ChatEvent
{
    /// <summary>The status as the faces write it: <c>public</c>, <c>private</c> or <c>unknown</c>.</summary>
    public string StatusText => Status switch
    {
        NodeReachability.Public => "public",
        NodeReachability.Private => "private",
        _ => "unknown",
    };
}
