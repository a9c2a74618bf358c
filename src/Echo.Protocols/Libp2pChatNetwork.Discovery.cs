using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Relay;
using Echo.Protocols.Discovery;
using Echo.Protocols.Rooms;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols;

/// <summary>
/// Rooms found through the DHT (<see cref="RoomDiscovery"/>), when a provider routing system is
/// set (<see cref="ProviderRouting"/>): joined rooms and our presence are provided, the rooms'
/// providers are dialed and reported with <see cref="PeerSource.Dht"/>, a peer we have no address
/// of is looked up by its presence key, and /dht reads <see cref="GetDhtStatus"/>.
/// </summary>
public sealed partial class Libp2pChatNetwork : IDhtStatusSource, IDiscoveryHost
{
    private readonly HashSet<PeerId> _dhtDialing = [];
    private readonly HashSet<PeerId> _dhtJoined = [];
    private RoomDiscovery? _discovery;
    private DhtStatus? _lastDhtStatus;

    /// <summary>
    /// The DHT rooms are found through; set before <see cref="StartAsync"/> (where the public
    /// network starts). Null: no room discovery beyond the LAN.
    /// </summary>
    internal IProviderRouting? ProviderRouting { get; set; }

    /// <summary>The discovery schedule and bounds (tests shorten them).</summary>
    internal RoomDiscoveryOptions DiscoveryOptions { get; set; } = new();

    /// <summary>Room discovery, once started with a <see cref="ProviderRouting"/> (for tests).</summary>
    internal RoomDiscovery? Discovery => _discovery;

    private void StartDiscovery()
    {
        if (ProviderRouting is not { } routing)
            return;
        _discovery = new RoomDiscovery(routing, _host.PeerId, this, DiscoveryOptions, _time,
            _loggers.CreateLogger<RoomDiscovery>());
        _host.AddressesChanged += OnDiscoveryAddressesChanged;
        _host.PeerDisconnected += OnDiscoveryPeerDisconnected;
        _discovery.Start();
        string[] rooms;
        lock (_gate)
            rooms = [.. _rooms.Keys];
        foreach (string room in rooms)
            _discovery.Join(room);
    }

    private void JoinDiscovery(string room) => _discovery?.Join(room);

    private void LeaveDiscovery(string room) => _discovery?.Leave(room);

    private void OnDiscoveryAddressesChanged(IReadOnlyList<Multiaddr> addresses) => _discovery?.AddressesChanged();

    private void OnDiscoveryPeerDisconnected(Connection connection)
    {
        bool removed;
        lock (_gate)
            removed = _host.GetConnection(connection.RemotePeer) is null && _dhtJoined.Remove(connection.RemotePeer);
        if (removed)
            PostDhtStatus();
    }

    /// <summary>Called with <see cref="_gate"/> held when a peer joins: a peer dialed because the DHT named it counts as found there.</summary>
    private bool JoinedThroughDht(PeerId peer)
    {
        if (!_dhtDialing.Contains(peer))
            return false;
        _dhtJoined.Add(peer);
        return true;
    }

    /// <inheritdoc />
    public DhtStatus? GetDhtStatus()
    {
        if (_discovery is not { } discovery)
            return null;
        IProviderRouting routing = discovery.Routing;
        int peers;
        lock (_gate)
            peers = _dhtJoined.Count;
        return new DhtStatus(
            routing.Mode == ProviderRoutingMode.Server ? "server" : "client",
            routing.RoutingTableSize,
            peers,
            discovery.RoomsFound,
            [.. routing.RecentLookups.Select(l => new DhtLookup(
                l.Kind switch
                {
                    ProviderLookupKind.Providers => "providers",
                    ProviderLookupKind.Bootstrap => "bootstrap",
                    _ => "closest-peers",
                },
                l.Started, l.Duration, l.MessagesSent, l.PeersQueried, l.Found))]);
    }

    /// <summary>Tells the chat the DHT's numbers when what the faces show (mode, table size, peers, rooms found) changed.</summary>
    private void PostDhtStatus()
    {
        if (GetDhtStatus() is not { } status)
            return;
        lock (_gate)
        {
            if (_lastDhtStatus is { } last && last.Mode == status.Mode && last.RoutingTableSize == status.RoutingTableSize
                && last.PeersFound == status.PeersFound && last.RoomsFound.SequenceEqual(status.RoomsFound, StringComparer.Ordinal))
                return;
            _lastDhtStatus = status;
        }
        Post(new DhtStatusChanged(status));
    }

    /// <summary>
    /// The addresses <paramref name="peer"/>'s presence record names, usable to dial it (bounded
    /// like every dial candidate); empty without room discovery or when the DHT has none.
    /// </summary>
    private async Task<IReadOnlyList<Multiaddr>> PresenceCandidatesAsync(PeerId peer, CancellationToken cancellationToken)
    {
        if (_discovery is not { } discovery)
            return [];
        IReadOnlyList<Multiaddr> found = await discovery.FindPeerAsync(peer, cancellationToken).ConfigureAwait(false);
        return found.Count == 0 ? [] : DialCandidates(peer, [.. found.Select(a => a.ToString())]);
    }

    bool IDiscoveryHost.IsConnected(PeerId peer) => _host.GetConnection(peer) is not null;

    int IDiscoveryHost.RoomPeers(string room) => _router.TopicPeers(RoomTopic.ForRoom(room)).Count;

    void IDiscoveryHost.StatusChanged() => PostDhtStatus();

    /// <summary>
    /// Dials a provider at the addresses its record carries (then what we know of it), its relays'
    /// circuits last (a NATed provider is reached only so), reported as found through the DHT.
    /// </summary>
    async Task IDiscoveryHost.DialAsync(ProviderRecord provider, CancellationToken cancellationToken)
    {
        IReadOnlyList<Multiaddr> direct = DialCandidates(provider.Peer, [.. provider.Addresses.Take(MaxDialCandidates).Select(a => a.ToString())]);
        Multiaddr[] candidates = [.. direct, .. provider.Addresses
            .Select(a => a.PeerId == provider.Peer ? a.WithoutPeerId() : a)
            .Where(a => a.PeerId is null && RelayAddressing.IsDialableCircuit(a) && RelayAddressing.RelayOf(a) != _host.PeerId)
            .Distinct()
            .Take(MaxDialCandidates)];
        if (candidates.Length == 0)
            throw new ChatNetworkException("its record names no address we can dial");
        await DialThroughDhtAsync(provider.Peer, candidates, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Tries <paramref name="candidates"/> in order until one connects; the peer joins with <see cref="PeerSource.Dht"/>.</summary>
    private async Task DialThroughDhtAsync(PeerId peer, IReadOnlyList<Multiaddr> candidates, CancellationToken cancellationToken)
    {
        lock (_gate)
            _dhtDialing.Add(peer);
        try
        {
            string? failure = null;
            foreach (Multiaddr address in candidates)
            {
                try
                {
                    await _host.DialAsync(address.WithPeerId(peer), cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (DialFailedException e)
                {
                    failure ??= $"{address}: {e.Reason}";
                }
                if (_host.GetConnection(peer) is not null)
                    return;
            }
            throw new ChatNetworkException(failure ?? "no address to dial");
        }
        finally
        {
            lock (_gate)
                _dhtDialing.Remove(peer);
        }
    }

    private async ValueTask DisposeDiscoveryAsync()
    {
        _host.AddressesChanged -= OnDiscoveryAddressesChanged;
        _host.PeerDisconnected -= OnDiscoveryPeerDisconnected;
        if (_discovery is not null)
            await _discovery.DisposeAsync().ConfigureAwait(false);
    }
}
