using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Relay;

/// <summary>
/// Relayed addresses: <c>&lt;relay address&gt;/p2p/&lt;relay&gt;/p2p-circuit</c> is where a reserving
/// peer can be reached, <c>…/p2p-circuit/p2p/&lt;peer&gt;</c> what is dialed.
/// </summary>
public static class RelayAddressing
{
    /// <summary><c>/p2p-circuit</c>.</summary>
    public static Multiaddr CircuitSuffix { get; } = Multiaddr.Parse("/p2p-circuit");

    /// <summary>Whether <paramref name="address"/> goes through a relay (has <c>/p2p-circuit</c>).</summary>
    public static bool IsCircuit(Multiaddr address) =>
        address.Components.Any(c => ReferenceEquals(c.Protocol, MultiaddrProtocol.P2pCircuit));

    /// <summary>
    /// Whether <paramref name="address"/> is <c>&lt;TCP address&gt;/p2p/&lt;relay&gt;/p2p-circuit</c>
    /// (a destination's <c>/p2p/</c> after it allowed): a circuit we can dial through a relay we can dial.
    /// </summary>
    public static bool IsDialableCircuit(Multiaddr address) =>
        TrySplit(address, out Multiaddr? relay, out _) && relay!.PeerId is not null
        && Transport.Tcp.TcpTransport.CanHandle(relay.WithoutPeerId());

    /// <summary>Whether <paramref name="connection"/> is relayed: its remote address goes through a relay.</summary>
    public static bool IsRelayed(this Connection connection) => IsCircuit(connection.RemoteAddress);

    /// <summary>
    /// The relay of a relayed connection or address: the peer named just before <c>/p2p-circuit</c>;
    /// null for a direct one.
    /// </summary>
    public static PeerId? RelayOf(Multiaddr address) => TrySplit(address, out Multiaddr? relay, out _) ? relay!.PeerId : null;

    /// <summary>
    /// Splits <c>&lt;relay part&gt;/p2p-circuit/p2p/&lt;destination&gt;</c>: the relay part (ending in
    /// <c>/p2p/&lt;relay&gt;</c>, a transport before it optional) and the destination (null when the
    /// address ends at <c>/p2p-circuit</c>). False when the address is not relayed, nests relays or
    /// names no relay.
    /// </summary>
    public static bool TrySplit(Multiaddr address, out Multiaddr? relay, out PeerId? destination)
    {
        relay = null;
        destination = null;
        IReadOnlyList<MultiaddrComponent> components = address.Components;
        int circuit = -1;
        for (int i = 0; i < components.Count; i++)
        {
            if (!ReferenceEquals(components[i].Protocol, MultiaddrProtocol.P2pCircuit))
                continue;
            if (circuit >= 0)
                return false;      // a circuit through a circuit: not served
            circuit = i;
        }
        if (circuit <= 0 || !ReferenceEquals(components[circuit - 1].Protocol, MultiaddrProtocol.P2p))
            return false;
        int after = components.Count - circuit - 1;
        if (after > 1 || (after == 1 && !ReferenceEquals(components[^1].Protocol, MultiaddrProtocol.P2p)))
            return false;
        relay = address.Decapsulate(MultiaddrProtocol.P2pCircuit.Name);
        destination = after == 1 ? address.PeerId : null;
        return true;
    }
}
