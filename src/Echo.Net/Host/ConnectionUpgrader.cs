using Echo.Net.Identity;
using Echo.Net.Multistream;
using Echo.Net.Noise;
using Echo.Net.ResourceManager;
using Echo.Net.Transport.Tcp;
using Echo.Net.Yamux;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Host;

/// <summary>
/// Turns a raw TCP connection into a secure, multiplexed libp2p connection
/// (https://github.com/libp2p/specs/blob/master/connections/README.md):
/// <code>
///   multistream-select "/noise"  ->  Noise XX  ->  multistream-select "/yamux/1.0.0" (encrypted)  ->  yamux
/// </code>
/// The dialer is the initiator at every step and the yamux client (odd stream ids).
/// </summary>
internal static class ConnectionUpgrader
{
    public const string MuxerProtocol = "/yamux/1.0.0";

    public static async Task<(NoiseSecureChannel Channel, YamuxSession Session)> UpgradeOutboundAsync(TcpConnection tcp,
        KeyPair identity, PeerId? expectedPeer, YamuxOptions yamux, TimeProvider time, ILoggerFactory loggers,
        CancellationToken cancellationToken, Action<PeerId>? checkRemote = null, MemoryBudget? memory = null)
    {
        await MultistreamSelect.SelectAsync(tcp, [NoiseHandshake.ProtocolId], cancellationToken).ConfigureAwait(false);
        NoiseSecureChannel channel = await NoiseHandshake.InitiateAsync(tcp, identity, expectedPeer,
            loggers.CreateLogger("Echo.Net.Noise"), cancellationToken, checkRemote).ConfigureAwait(false);
        try
        {
            await MultistreamSelect.SelectAsync(channel, [MuxerProtocol], cancellationToken).ConfigureAwait(false);
            YamuxSession session = new(channel, isClient: true, yamux, time, loggers.CreateLogger("Echo.Net.Yamux"),
                memory?.OpenConnection(channel.RemotePeer));
            return (channel, session);
        }
        catch
        {
            await channel.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public static async Task<(NoiseSecureChannel Channel, YamuxSession Session)> UpgradeInboundAsync(TcpConnection tcp,
        KeyPair identity, YamuxOptions yamux, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken,
        MemoryBudget? memory = null)
    {
        // go dialers offer /tls/1.0.0 first: we answer "na" and they go on to /noise.
        await MultistreamSelect.ListenAsync(tcp, p => p == NoiseHandshake.ProtocolId, cancellationToken).ConfigureAwait(false);
        NoiseSecureChannel channel = await NoiseHandshake.RespondAsync(tcp, identity,
            loggers.CreateLogger("Echo.Net.Noise"), cancellationToken).ConfigureAwait(false);
        try
        {
            await MultistreamSelect.ListenAsync(channel, p => p == MuxerProtocol, cancellationToken).ConfigureAwait(false);
            YamuxSession session = new(channel, isClient: false, yamux, time, loggers.CreateLogger("Echo.Net.Yamux"),
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
