using System.Globalization;
using Echo.Net.Addressing;
using Echo.Net.Bootstrap;
using Echo.Net.Dcutr;
using Echo.Net.Identity;
using Echo.Net.Kad;
using Echo.Net.Multiformats;
using Echo.Net.Relay;
using Echo.Protocols.Discovery;

namespace Echo.Protocols;

/// <summary>
/// The public network (<see cref="ChatNetworkOptions.PublicNetwork"/>): off unless asked for; on, the
/// bootstrap peers are resolved and dialed once the host listens, and /stats counts them; the
/// Kademlia DHT runs beside them (client unless AutoNAT says public, or as forced); the relay
/// client keeps reservations while AutoNAT says private (the bootstrap peers first) and dials relayed
/// addresses; the relay service serves while AutoNAT says public.
/// </summary>
public sealed partial class Libp2pChatNetwork
{
    private Bootstrapper? _bootstrapper;
    private KadDht? _kad;
    private RelayClient? _relays;
    private RelayService? _relayService;

    /// <summary>Whether the public-network stack is on (<c>--bootstrap</c> or <c>--public</c>).</summary>
    public bool PublicNetworkEnabled => _options.PublicNetwork is not null;

    /// <summary>The bootstrapper, while the public network is on (for tests).</summary>
    internal Bootstrapper? Bootstrapper => _bootstrapper;

    /// <summary>The Kademlia DHT, while the public network is on.</summary>
    internal KadDht? Kad => _kad;

    /// <summary>
    /// Whether a connection to <paramref name="peer"/> is one the DHT dialed: not a chat peer by that
    /// alone (it joins when identify shows a chat protocol), so DHT servers do not fill the peer list.
    /// </summary>
    private bool IsDhtDial(PeerId peer) => _kad?.IsDialing(peer) == true;

    /// <summary>The relay client, while the public network is on (for tests).</summary>
    internal RelayClient? Relays => _relays;

    /// <summary>The relay service, while the public network is on and it is not off (for tests).</summary>
    internal RelayService? RelayService => _relayService;

    /// <summary>The relay reservations held now (relay, expiry, limits), for the faces and /stats; empty without the public network.</summary>
    public IReadOnlyList<RelayReservation> RelayReservations => _relays?.Reservations ?? [];

    /// <summary>What the relay service holds and refused, or null when it does not run.</summary>
    public RelayServiceStats? RelayServiceStats => _relayService?.Stats;

    /// <summary>Starts dialing the bootstrap peers (after the host listens); nothing without the public network.</summary>
    private void StartPublicNetwork()
    {
        if (_options.PublicNetwork is not { } publicNetwork)
            return;
        _bootstrapper = new Bootstrapper(_host, publicNetwork.Bootstrap, _loggers, _time);
        _bootstrapper.Start();
        _kad = new KadDht(_host, new KadOptions
        {
            ForcedMode = publicNetwork.DhtMode,
            PeerCachePath = publicNetwork.DhtPeerCacheFile,
            AddressFilter = DhtAddressFilter(),
        }, _loggers, _time);
        _kad.Start();
        ProviderRouting ??= new KadProviderRouting(_kad);
        PeerId[] bootstrapPeers = [.. publicNetwork.Bootstrap.Peers.Select(a => a.PeerId).OfType<PeerId>()];
        _relays = new RelayClient(_host, publicNetwork.Relay with { PreferredRelays = [.. publicNetwork.Relay.PreferredRelays, .. bootstrapPeers] },
            _loggers, _time);
        _relays.AddCandidateSource(new KadRelayCandidates(_kad, _host.PeerId));
        _relays.ReservationsChanged += OnReservationsChanged;
        _relays.Start();
        if (_host.Dcutr is { } dcutr)
            dcutr.Completed += OnHolePunchCompleted;
        if (publicNetwork.RelayService.Mode != RelayServiceMode.Off)
        {
            _relayService = new RelayService(_host, publicNetwork.RelayService, _loggers, _time);
            _relayService.Start();
        }
    }

    /// <summary>
    /// The addresses of other peers the DHT uses: public ones (as go's and js's Amino DHTs), relayed
    /// ones (a NATed provider is reached through its relay), and loopback ones too when we listen on
    /// loopback only (a test on one machine).
    /// </summary>
    private Func<Multiaddr, bool> DhtAddressFilter()
    {
        AddressClassifier classifier = _host.AddressClassifier;
        bool loopbackOnly = _host.ListenAddresses.Count > 0
            && _host.ListenAddresses.All(a => classifier.Classify(a) == AddressClass.Loopback);
        return a => classifier.Classify(a) switch
        {
            AddressClass.Public or AddressClass.Circuit => true,
            AddressClass.Loopback => loopbackOnly,
            _ => false,
        };
    }

    /// <summary>The relays we hold a reservation on, for the faces: each relay's first address with <c>/p2p/</c>.</summary>
    private void OnReservationsChanged(IReadOnlyList<RelayReservation> reservations)
    {
        string[] relays = [.. reservations.Select(r => r.RelayAddresses.Count > 0 ? r.RelayAddresses[0].WithPeerId(r.Relay).ToString() : r.Relay.ToString())];
        SetRelaysInUse(relays, [.. reservations.Select((r, i) => new Core.Ports.RelayReservationInfo(relays[i], r.Limit.Duration, r.Limit.DataBytes, r.Expires))]);
    }

    /// <summary>A hole punch gave up: the peer stays relayed, and the faces say why.</summary>
    private void OnHolePunchCompleted(DcutrResult result)
    {
        if (result.Succeeded)
            return;
        int attempts = result.Attempts;
        string reason = result.SymmetricNatSuspected && result.Reason is { } r && r.StartsWith("symmetric NAT suspected", StringComparison.Ordinal)
            ? string.Create(CultureInfo.InvariantCulture, $"hole punch failed after {attempts} attempt{(attempts == 1 ? "" : "s")}, {r}")
            : string.Create(CultureInfo.InvariantCulture, $"hole punch failed after {attempts} attempt{(attempts == 1 ? "" : "s")}: {result.Reason ?? "no reason given"}");
        ReportRelayReason(result.Peer, reason);
    }

    private async ValueTask DisposePublicNetworkAsync()
    {
        if (_relays is not null)
            _relays.ReservationsChanged -= OnReservationsChanged;
        if (_host.Dcutr is { } dcutr)
            dcutr.Completed -= OnHolePunchCompleted;
        if (_kad is not null)
            await _kad.DisposeAsync().ConfigureAwait(false);
        if (_relayService is not null)
            await _relayService.DisposeAsync().ConfigureAwait(false);
        if (_relays is not null)
            await _relays.DisposeAsync().ConfigureAwait(false);
        if (_bootstrapper is not null)
            await _bootstrapper.DisposeAsync().ConfigureAwait(false);
    }
}
