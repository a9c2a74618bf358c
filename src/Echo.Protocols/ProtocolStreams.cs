using Echo.Core.Ports;
using Echo.Net;
using Echo.Net.Host;
using Echo.Net.Identity;

namespace Echo.Protocols;

/// <summary>Opening a chat protocol's stream to a peer, with the failures a user can act on.</summary>
internal static class ProtocolStreams
{
    /// <summary>
    /// Opens a <paramref name="protocol"/> stream to <paramref name="peer"/> within
    /// <paramref name="limit"/>. Not connected, a broken connection, a refused protocol or the
    /// limit running out become a <see cref="ChatNetworkException"/>; cancelling
    /// <paramref name="cancellationToken"/> stays a cancellation.
    /// </summary>
    public static async Task<P2PStream> OpenAsync(Libp2pHost host, PeerId peer, string protocol, string notConnected,
        CancellationToken limit, CancellationToken cancellationToken)
    {
        try
        {
            return await host.OpenStreamAsync(peer, protocol, limit).ConfigureAwait(false);
        }
        catch (Exception e) when (e is PeerNotConnectedException or LimitedConnectionException or IOException or ProtocolViolationException or ObjectDisposedException
                                  || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new ChatNetworkException(e is PeerNotConnectedException ? notConnected : e.Message, e);
        }
    }
}
