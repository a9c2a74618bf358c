namespace Echo.Core.Ports;

/// <summary>
/// The DHT as the faces show it: /dht, the headless <c>dht</c> event, the TUI status line and the
/// web page.
/// </summary>
/// <param name="Mode"><c>client</c> (asks only) or <c>server</c> (also answers).</param>
/// <param name="RoutingTableSize">DHT peers known: those in the routing table.</param>
/// <param name="PeersFound">Connected peers we dialed because the DHT named them (<see cref="Peers.PeerSource.Dht"/>).</param>
/// <param name="RoomsFound">Joined rooms whose lookup found other members, in name order.</param>
/// <param name="Lookups">The last lookups, newest last.</param>
public sealed record DhtStatus(string Mode, int RoutingTableSize, int PeersFound, IReadOnlyList<string> RoomsFound,
    IReadOnlyList<DhtLookup> Lookups);

/// <summary>One finished DHT lookup.</summary>
/// <param name="Kind"><c>providers</c>, <c>closest-peers</c> or <c>bootstrap</c>.</param>
/// <param name="Started">When it started.</param>
/// <param name="Duration">How long it ran.</param>
/// <param name="Messages">Requests sent.</param>
/// <param name="PeersQueried">Distinct peers asked.</param>
/// <param name="Found">Results (providers or peers).</param>
public sealed record DhtLookup(string Kind, DateTimeOffset Started, TimeSpan Duration, int Messages, int PeersQueried, int Found);

/// <summary>A network that can find rooms through a DHT.</summary>
public interface IDhtStatusSource
{
    /// <summary>The DHT's numbers now; null while the network runs no DHT.</summary>
    DhtStatus? GetDhtStatus();
}

/// <summary>What the faces show of the DHT changed (peers found, rooms found, table size, mode).</summary>
public sealed record DhtStatusChanged(DhtStatus Status) : NetworkEvent;
