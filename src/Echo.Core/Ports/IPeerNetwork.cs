namespace Echo.Core.Ports;

/// <summary>What a dial the user asked for came to.</summary>
/// <param name="PeerId">The peer that answered.</param>
/// <param name="AlreadyConnected">True when that peer was connected before the dial: the existing connection was kept.</param>
public sealed record ConnectResult(string PeerId, bool AlreadyConnected);

/// <summary>A peer we were connected to and are not now, as the network remembers it.</summary>
/// <param name="PeerId">The peer id (text form).</param>
/// <param name="Address">The address most likely to work (the last one a dial succeeded at), with /p2p/; null when none is known.</param>
/// <param name="LastSeen">When we were last connected to it.</param>
/// <param name="NextDial">When it is dialed next; null while a dial is under way.</param>
/// <param name="Nick">The last nick it announced while connected (verified, kept across restarts); null when none is known.</param>
public sealed record RememberedPeer(string PeerId, string? Address, DateTimeOffset LastSeen, DateTimeOffset? NextDial, string? Nick = null);

/// <summary>
/// Remembered peers and reconnection: the network keeps the peers we were connected to and redials
/// them when they are away. Implemented over libp2p by Echo.Protocols next to
/// <see cref="IChatNetwork"/>; a network without it only dials when asked.
/// </summary>
public interface IPeerNetwork
{
    /// <summary>
    /// Dials <paramref name="address"/> like <see cref="IChatNetwork.ConnectAsync"/>, and says whether
    /// the peer was already connected (dialing is idempotent: that connection is kept). Throws
    /// <see cref="ChatNetworkException"/> with the reason when it cannot, e.g. for our own address or id.
    /// </summary>
    Task<ConnectResult> DialAsync(string address, CancellationToken cancellationToken);

    /// <summary>The remembered peers that are not connected now, each with its next redial.</summary>
    IReadOnlyList<RememberedPeer> AwayPeers { get; }

    /// <summary>
    /// Forgets <paramref name="peerId"/>: it is no longer remembered or redialed (a live connection
    /// stays up). Returns false when it was not remembered.
    /// </summary>
    Task<bool> ForgetAsync(string peerId, CancellationToken cancellationToken);
}
