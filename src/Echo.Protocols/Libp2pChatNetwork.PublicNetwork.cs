using Echo.Net.Bootstrap;
using Echo.Net.Identity;
using Echo.Net.Relay;

namespace Echo.Protocols;

/// <summary>
/// The public network (<see cref="ChatNetworkOptions.PublicNetwork"/>): off unless asked for; on, the
/// bootstrap peers are resolved and dialed once the host listens, and /stats counts them; the relay
/// client keeps reservations while AutoNAT says private (the bootstrap peers first) and dials relayed
/// addresses; the relay service serves while AutoNAT says public.
/// </summary>
public sealed partial class Libp2pChatNetwork
{
    private Bootstrapper? _bootstrapper;
    private RelayClient? _relays;
    private RelayService? _relayService;

    /// <summary>Whether the public-network stack is on (<c>--bootstrap</c> or <c>--public</c>).</summary>
    public bool PublicNetworkEnabled => _options.PublicNetwork is not null;

    /// <summary>The bootstrapper, while the public network is on (for tests).</summary>
    internal Bootstrapper? Bootstrapper => _bootstrapper;

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
        PeerId[] bootstrapPeers = [.. publicNetwork.Bootstrap.Peers.Select(a => a.PeerId).OfType<PeerId>()];
        _relays = new RelayClient(_host, publicNetwork.Relay with { PreferredRelays = [.. publicNetwork.Relay.PreferredRelays, .. bootstrapPeers] },
            _loggers, _time);
        _relays.Start();
        if (publicNetwork.RelayService.Mode != RelayServiceMode.Off)
        {
            _relayService = new RelayService(_host, publicNetwork.RelayService, _loggers, _time);
            _relayService.Start();
        }
    }

    private async ValueTask DisposePublicNetworkAsync()
    {
        if (_relayService is not null)
            await _relayService.DisposeAsync().ConfigureAwait(false);
        if (_relays is not null)
            await _relays.DisposeAsync().ConfigureAwait(false);
        if (_bootstrapper is not null)
            await _bootstrapper.DisposeAsync().ConfigureAwait(false);
    }
}
