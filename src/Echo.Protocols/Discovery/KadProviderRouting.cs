using System.Runtime.CompilerServices;
using Echo.Net.Kad;

namespace Echo.Protocols.Discovery;

/// <summary>Room discovery's provider routing, done by the Kademlia DHT.</summary>
internal sealed class KadProviderRouting(KadDht dht) : IProviderRouting
{
    public Task<int> ProvideAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken) =>
        dht.ProvideAsync(key, cancellationToken);

    public async IAsyncEnumerable<ProviderRecord> FindProvidersAsync(ReadOnlyMemory<byte> key, int maxCount,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (KadPeer peer in dht.FindProvidersAsync(key, maxCount, cancellationToken).ConfigureAwait(false))
            yield return new ProviderRecord(peer.Id, peer.Addresses);
    }

    public int RoutingTableSize => dht.RoutingTableSize;

    public ProviderRoutingMode Mode => dht.Mode == KadMode.Server ? ProviderRoutingMode.Server : ProviderRoutingMode.Client;

    public IReadOnlyList<ProviderLookup> RecentLookups =>
        [.. dht.RecentLookups.Select(l => new ProviderLookup(Kind(l.Kind), l.Started, l.Duration, l.MessagesSent, l.PeersQueried, l.Found))];

    private static ProviderLookupKind Kind(KadLookupKind kind) => kind switch
    {
        KadLookupKind.ClosestPeers => ProviderLookupKind.ClosestPeers,
        KadLookupKind.Providers => ProviderLookupKind.Providers,
        _ => ProviderLookupKind.Bootstrap,
    };
}
