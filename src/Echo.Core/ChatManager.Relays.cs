using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Core;

/// <summary>
/// Relayed peers as an honest state: how each connected peer is reached (relay or direct, kept on its
/// <see cref="PeerInfo"/> and updated when the connection is upgraded), why a peer is still relayed,
/// and the relays this node is reachable through (for the status bar).
/// </summary>
public sealed partial class ChatManager
{
    private IReadOnlyList<string>? _relays;

    /// <summary>The relays this node holds a reservation on (empty for none), as the network last reported them.</summary>
    public IReadOnlyList<string> RelaysInUse
    {
        get
        {
            lock (_gate)
                return _relays ?? (_network as IRelayStatus)?.RelaysInUse ?? [];
        }
    }

    /// <summary>" via relay" (with the reason, when known) or " via direct", for /peers.</summary>
    private static string ViaText(PeerInfo peer) =>
        "  via " + peer.Via + (peer is { Relayed: true, RelayReason: { } reason } ? $" ({SafeText.ForDisplay(reason)})" : "");

    private void ApplyRelays(NetworkEvent networkEvent)
    {
        switch (networkEvent)
        {
            case PeerPathChanged changed:
                lock (_gate)
                    _directory.PathChanged(changed);
                break;
            case PeerRelayReason reason:
                lock (_gate)
                    _directory.RelayReasonChanged(reason);
                break;
            case RelaysChanged relays:
                lock (_gate)
                {
                    _relays = relays.Relays;
                    PublishLocked(new RelaysEvent(relays.Relays) { Reservations = relays.Reservations });
                }
                break;
        }
    }
}
