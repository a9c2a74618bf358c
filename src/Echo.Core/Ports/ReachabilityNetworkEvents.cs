namespace Echo.Core.Ports;

/// <summary>Whether peers on the internet can dial this node, as the network judged it.</summary>
public enum NodeReachability
{
    /// <summary>No verdict yet; the node behaves as private.</summary>
    Unknown,

    /// <summary>Some address was confirmed reachable.</summary>
    Public,

    /// <summary>The addresses checked were found unreachable.</summary>
    Private,
}

/// <summary>
/// The node's reachability changed. <paramref name="Addresses"/> are the addresses the verdict rests
/// on (public: those confirmed; private: those denied; unknown: none).
/// </summary>
public sealed record ReachabilityChanged(NodeReachability Status, IReadOnlyList<string> Addresses) : NetworkEvent;
