using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Kad;

/// <summary>Whether the DHT only asks (client) or also answers and is in others' routing tables (server).</summary>
public enum KadMode
{
    /// <summary>Asks only; never advertises <c>/ipfs/kad/1.0.0</c>, so no routing table holds it.</summary>
    Client,

    /// <summary>Advertises <c>/ipfs/kad/1.0.0</c>, answers FIND_NODE, GET_PROVIDERS, ADD_PROVIDER and GET_VALUE.</summary>
    Server,
}

/// <summary>A peer a lookup returned, with the addresses it was given with (possibly none).</summary>
public sealed record KadPeer(PeerId Id, IReadOnlyList<Multiaddr> Addresses);

/// <summary>What a lookup looked for.</summary>
public enum KadLookupKind
{
    /// <summary>The k closest peers to a key (GetClosestPeers, and the first half of a provide).</summary>
    ClosestPeers,

    /// <summary>The providers of a key (GET_PROVIDERS).</summary>
    Providers,

    /// <summary>A lookup of a refresh (own id or a random id in a bucket).</summary>
    Bootstrap,
}

/// <summary>The cost and result of one lookup.</summary>
/// <param name="Kind">What it looked for.</param>
/// <param name="Started">When it started.</param>
/// <param name="Duration">How long it ran.</param>
/// <param name="MessagesSent">Requests sent (each to one peer).</param>
/// <param name="PeersQueried">Distinct peers that answered.</param>
/// <param name="Found">Closest peers returned, or providers found.</param>
public sealed record KadLookupStats(KadLookupKind Kind, DateTimeOffset Started, TimeSpan Duration, int MessagesSent, int PeersQueried, int Found);
