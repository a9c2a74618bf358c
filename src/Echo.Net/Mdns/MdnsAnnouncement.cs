using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Mdns;

/// <summary>
/// One peer as a response described it: the service it answered for, the instance (peer) name the
/// PTR pointed at, the peer id and TCP addresses from its <c>dnsaddr=</c> TXT strings, and how long
/// the records live (zero: the peer said goodbye).
/// </summary>
public sealed record MdnsAnnouncement(string ServiceName, string InstanceName, PeerId Peer, IReadOnlyList<Multiaddr> Addresses,
    TimeSpan Ttl);
