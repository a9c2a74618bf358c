using Echo.Core.Events;
using Echo.Core.Ports;

namespace Echo.Core;

/// <summary>The node's reachability, as the network reports it, for the faces.</summary>
public sealed partial class ChatManager
{
    private ReachabilityEvent? _reachability;

    /// <summary>The last reachability the network reported; null when it reports none (the public-network stack is off).</summary>
    public ReachabilityEvent? Reachability
    {
        get
        {
            lock (_gate)
                return _reachability;
        }
    }

    private void ApplyReachability(NetworkEvent networkEvent)
    {
        if (networkEvent is not ReachabilityChanged changed)
            return;
        ReachabilityEvent reachability = new(changed.Status, changed.Addresses);
        lock (_gate)
        {
            _reachability = reachability;
            PublishLocked(reachability);
        }
    }
}
