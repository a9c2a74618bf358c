using System.Collections.Concurrent;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Identify;

/// <summary>
/// What identify taught us about peers. Bounded: a connected peer keeps at most
/// <see cref="IdentifyLimits.MaxStoredAddresses"/> addresses and <see cref="IdentifyLimits.MaxStoredProtocols"/>
/// protocols; a disconnected one keeps at most <see cref="IdentifyLimits.MaxAddressesAfterDisconnect"/>
/// addresses and no protocols; at most <see cref="MaxPeers"/> peers are remembered.
/// </summary>
public sealed class PeerStore
{
    public const int MaxPeers = 1024;

    private readonly ConcurrentDictionary<PeerId, IdentifyInfo> _peers = new();

    public IdentifyInfo? Get(PeerId peer) => _peers.GetValueOrDefault(peer);

    public int Count => _peers.Count;

    internal void Put(IdentifyInfo info)
    {
        if (_peers.Count >= MaxPeers && !_peers.ContainsKey(info.Peer))
        {
            // Forget a peer we are not talking to any more (one without protocols).
            PeerId? stale = _peers.FirstOrDefault(p => p.Value.Protocols.Count == 0).Key;
            if (stale is null)
                return;
            _peers.TryRemove(stale, out _);
        }
        _peers[info.Peer] = info;
    }

    internal void OnDisconnected(PeerId peer)
    {
        if (_peers.TryGetValue(peer, out IdentifyInfo? info))
            _peers[peer] = info with
            {
                Protocols = [],
                ListenAddresses = info.ListenAddresses.Count <= IdentifyLimits.MaxAddressesAfterDisconnect
                    ? info.ListenAddresses
                    : [.. info.ListenAddresses.Take(IdentifyLimits.MaxAddressesAfterDisconnect)],
            };
    }

    internal IReadOnlyList<Multiaddr> AddressesOf(PeerId peer) => Get(peer)?.ListenAddresses ?? [];
}
