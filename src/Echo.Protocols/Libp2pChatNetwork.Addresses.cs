using Echo.Core.Ports;
using Echo.Net.Identify;

namespace Echo.Protocols;

/// <summary>/addrs: the host's listen, observed and advertised addresses, and an <see cref="AddressesChanged"/> on every change of the advertised ones.</summary>
public sealed partial class Libp2pChatNetwork : INodeAddressSource
{
    /// <inheritdoc />
    public NodeAddresses GetAddresses()
    {
        IReadOnlyList<ObservedAddressCandidate> observed = _host.ObservedAddressCandidates;
        return new NodeAddresses(
            [.. _host.ListenAddresses.Select(a => a.ToString())],
            [.. observed.Select(o => new ObservedNodeAddress(o.Address.ToString(), o.Observers, o.Trusted))],
            ListenAddresses);
    }

    private void StartAddresses() => _host.AddressesChanged += _ => Post(new AddressesChanged(GetAddresses()));
}
