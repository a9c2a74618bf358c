using Echo.Core.Ports;

namespace Echo.Core.Direct;

/// <summary>
/// The direct side of the network, the port of <see cref="DirectMessaging"/>: frames to one peer
/// (a text, a file offer, or both), each acknowledged. Implemented over libp2p by Echo.Protocols
/// next to <see cref="IChatNetwork"/>; a network without it has no /msg. File bytes are the port
/// <see cref="Files.IFileTransport"/>.
/// </summary>
public interface IDirectNetwork
{
    /// <summary>True while <paramref name="peerId"/> is connected.</summary>
    bool IsConnected(string peerId);

    /// <summary>
    /// Sends one frame to a connected peer and returns once the peer acknowledged it. Throws
    /// <see cref="ChatNetworkException"/> when the peer is not connected or did not acknowledge.
    /// </summary>
    Task SendDirectAsync(string peerId, DirectEnvelope envelope, CancellationToken cancellationToken);
}
