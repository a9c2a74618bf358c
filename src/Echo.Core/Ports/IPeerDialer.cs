namespace Echo.Core.Ports;

/// <summary>
/// Reaching a peer we are not connected to, by its id: what /msg and /get use when the peer they
/// need is away. Implemented by the libp2p network next to <see cref="IDirectNetwork"/>; a network
/// without it can only wait for the peer to connect.
/// </summary>
public interface IPeerDialer
{
    /// <summary>
    /// Connects to <paramref name="peerId"/> unless it is connected: tries <paramref name="hints"/>
    /// first (addresses from the peer's own signed offer), then the addresses the network remembers
    /// for it. Returns once connected; throws <see cref="ChatNetworkException"/> with the reason when
    /// no address is known or none answered. Cancelling <paramref name="cancellationToken"/> gives up.
    /// </summary>
    Task DialPeerAsync(string peerId, IReadOnlyList<string> hints, CancellationToken cancellationToken);
}
