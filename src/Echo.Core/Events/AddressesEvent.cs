using Echo.Core.Ports;

namespace Echo.Core.Events;

/// <summary>The node's addresses: the answer to /addrs (after its <see cref="NoticeEvent"/> text), and sent again when the advertised ones change.</summary>
public sealed record AddressesEvent(NodeAddresses Addresses) : ChatEvent;
