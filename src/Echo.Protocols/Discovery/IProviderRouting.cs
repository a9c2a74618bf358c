using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Protocols.Discovery;

/// <summary>
/// What room discovery needs of a content-routing system (the Kademlia DHT): announcing that we
/// provide a key, finding who provides one, and a few numbers for /dht. Keys are sha2-256
/// multihashes (<see cref="DiscoveryKeys"/>).
/// </summary>
public interface IProviderRouting
{
    /// <summary>Announces us as a provider of <paramref name="key"/> to the closest peers; returns how many were told.</summary>
    Task<int> ProvideAsync(ReadOnlyMemory<byte> key, CancellationToken cancellationToken);

    /// <summary>The providers of <paramref name="key"/>, as the lookup finds them, at most <paramref name="maxCount"/>.</summary>
    IAsyncEnumerable<ProviderRecord> FindProvidersAsync(ReadOnlyMemory<byte> key, int maxCount, CancellationToken cancellationToken);

    /// <summary>Peers in the routing table now.</summary>
    int RoutingTableSize { get; }

    /// <summary>Whether we only ask (client) or also answer (server).</summary>
    ProviderRoutingMode Mode { get; }

    /// <summary>The last lookups, newest last.</summary>
    IReadOnlyList<ProviderLookup> RecentLookups { get; }
}

/// <summary>Whether the node only asks the DHT or also serves it.</summary>
public enum ProviderRoutingMode
{
    /// <summary>Asks only; not in anyone's routing table.</summary>
    Client,

    /// <summary>Answers queries and stores records.</summary>
    Server,
}

/// <summary>What a lookup looked for.</summary>
public enum ProviderLookupKind
{
    /// <summary>The closest peers to a key (FIND_NODE), e.g. before providing.</summary>
    ClosestPeers,

    /// <summary>The providers of a key (GET_PROVIDERS).</summary>
    Providers,

    /// <summary>A routing-table refresh.</summary>
    Bootstrap,
}

/// <summary>A provider of a key: its id and the addresses the record carried (possibly none).</summary>
public sealed record ProviderRecord(PeerId Peer, IReadOnlyList<Multiaddr> Addresses);

/// <summary>One finished lookup, for /dht.</summary>
/// <param name="Kind">What it looked for.</param>
/// <param name="Started">When it started.</param>
/// <param name="Duration">How long it ran.</param>
/// <param name="MessagesSent">Requests sent.</param>
/// <param name="PeersQueried">Distinct peers asked.</param>
/// <param name="Found">Results (peers or providers).</param>
public sealed record ProviderLookup(ProviderLookupKind Kind, DateTimeOffset Started, TimeSpan Duration, int MessagesSent, int PeersQueried, int Found);
