using System.IO.Pipelines;
using Echo.Net.Identity;
using Echo.Net.Multistream;
using Echo.Net.Noise;
using Echo.Net.ResourceManager;
using Echo.Net.Yamux;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Host;

/// <summary>
/// Turns a raw byte stream (a TCP socket, a relayed circuit, an in-memory pipe) into a secure,
/// multiplexed libp2p connection (https://github.com/libp2p/specs/blob/master/connections/README.md):
/// <code>
///   multistream-select "/noise"  ->  Noise XX  ->  multistream-select "/yamux/1.0.0" (encrypted)  ->  yamux
/// </code>
/// The <see cref="ConnectionRole.Initiator"/> proposes at every step, starts Noise and is the yamux
/// client (odd stream ids). The role is given, not taken from the socket: usually the dialer
/// initiates, but an accepted socket can be the initiator (TCP simultaneous open after DCUtR).
/// </summary>
internal static class ConnectionUpgrader
{
    public const string MuxerProtocol = "/yamux/1.0.0";

    /// <summary>
    /// Upgrades <paramref name="raw"/> in <paramref name="role"/>. As initiator, <paramref name="expectedPeer"/>
    /// (when given) must be who answers and <paramref name="checkRemote"/> sees the remote's proven id
    /// before our last handshake message; as responder the remote's id is checked against
    /// <paramref name="expectedPeer"/> once the handshake is done.
    /// </summary>
    public static async Task<(NoiseSecureChannel Channel, YamuxSession Session)> UpgradeAsync(IDuplexPipe raw,
        ConnectionRole role, KeyPair identity, PeerId? expectedPeer, YamuxOptions yamux, TimeProvider time,
        ILoggerFactory loggers, CancellationToken cancellationToken, Action<PeerId>? checkRemote = null, MemoryBudget? memory = null)
    {
        bool initiator = role == ConnectionRole.Initiator;
        NoiseSecureChannel channel;
        if (initiator)
        {
            await MultistreamSelect.SelectAsync(raw, [NoiseHandshake.ProtocolId], cancellationToken).ConfigureAwait(false);
            channel = await NoiseHandshake.InitiateAsync(raw, identity, expectedPeer,
                loggers.CreateLogger("Echo.Net.Noise"), cancellationToken, checkRemote).ConfigureAwait(false);
        }
        else
        {
            // go dialers offer /tls/1.0.0 first: we answer "na" and they go on to /noise.
            await MultistreamSelect.ListenAsync(raw, p => p == NoiseHandshake.ProtocolId, cancellationToken).ConfigureAwait(false);
            channel = await NoiseHandshake.RespondAsync(raw, identity,
                loggers.CreateLogger("Echo.Net.Noise"), cancellationToken).ConfigureAwait(false);
        }
        try
        {
            if (!initiator && expectedPeer is not null && channel.RemotePeer != expectedPeer)
                throw new PeerIdMismatchException(expectedPeer, channel.RemotePeer);
            if (initiator)
                await MultistreamSelect.SelectAsync(channel, [MuxerProtocol], cancellationToken).ConfigureAwait(false);
            else
                await MultistreamSelect.ListenAsync(channel, p => p == MuxerProtocol, cancellationToken).ConfigureAwait(false);
            YamuxSession session = new(channel, isClient: initiator, yamux, time, loggers.CreateLogger("Echo.Net.Yamux"),
                memory?.OpenConnection(channel.RemotePeer));
            return (channel, session);
        }
        catch
        {
            await channel.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
