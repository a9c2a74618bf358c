using Echo.Net.Identity;
using Echo.Net.Kad;
using Echo.Net.Relay;

namespace Echo.Protocols.Discovery;

/// <summary>
/// Relay candidates from the DHT: the servers closest to our own id (kubo's AutoRelay source),
/// asked when no connected peer can take a reservation. A relay that does not speak hop refuses
/// and the relay client moves on.
/// </summary>
internal sealed class KadRelayCandidates(KadDht dht, PeerId self) : IRelayCandidateSource
{
    public async ValueTask<IReadOnlyList<RelayCandidate>> GetCandidatesAsync(CancellationToken cancellationToken)
    {
        if (dht.RoutingTableSize == 0)
            return [];
        IReadOnlyList<KadPeer> closest = await dht.GetClosestPeersAsync(self.ToBytes(), cancellationToken).ConfigureAwait(false);
        return [.. closest.Where(p => p.Addresses.Count > 0).Select(p => new RelayCandidate(p.Id, p.Addresses))];
    }
}
