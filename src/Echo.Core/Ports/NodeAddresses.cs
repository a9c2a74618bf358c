namespace Echo.Core.Ports;

/// <summary>An address peers observed this node at, with how many distinct observers report it.</summary>
/// <param name="Address">The observed address (a multiaddr without <c>/p2p/</c>).</param>
/// <param name="Observers">Distinct observers (IPv4 address or IPv6 /56) that report it now.</param>
/// <param name="Trusted">Whether enough observers report it for it to be advertised (a candidate external address).</param>
public sealed record ObservedNodeAddress(string Address, int Observers, bool Trusted);

/// <summary>
/// Where this node can be reached, for /addrs and the headless <c>addrs</c> event: the addresses it
/// listens on, the addresses peers observed it at (trusted or not yet), and the addresses it tells
/// peers (the listen addresses and the trusted observed ones).
/// </summary>
/// <param name="Listen">The listen addresses, with the ports actually bound.</param>
/// <param name="Observed">Every observed address now, most observers first.</param>
/// <param name="Advertised">The addresses peers are told (identify), with <c>/p2p/</c>.</param>
public sealed record NodeAddresses(IReadOnlyList<string> Listen, IReadOnlyList<ObservedNodeAddress> Observed, IReadOnlyList<string> Advertised);

/// <summary>A network that can tell its <see cref="NodeAddresses"/> (the libp2p network does).</summary>
public interface INodeAddressSource
{
    /// <summary>The addresses as of now.</summary>
    NodeAddresses GetAddresses();
}

/// <summary>The addresses the node advertises changed (an observed address became trusted or was dropped).</summary>
public sealed record AddressesChanged(NodeAddresses Addresses) : NetworkEvent;
