using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Pubsub;
using Echo.Protocols.EchoGo;

namespace Echo.Protocols;

/// <summary>
/// Which connected peers the chat sees. A peer we dialed joins at once (the user, mDNS or the peer
/// book asked for it). A peer that dialed us joins once identify shows it speaks a chat protocol
/// (gossipsub, the echo-go line, an <c>/echo/</c> protocol): an AutoNAT server's dial back (a fresh
/// identity that only delivers a nonce) or, later, a DHT node is a libp2p peer but not a chat peer,
/// and must not be shown joining and leaving.
/// </summary>
public sealed partial class Libp2pChatNetwork
{
    private bool IsChatPeer(PeerId peer) => _host.PeerStore.Get(peer) is { } info && IsChatPeer(info);

    private static bool IsChatPeer(IdentifyInfo info) =>
        info.Protocols.Any(p => PubsubRouter.Protocols.Contains(p) || p == EchoGoLine.ProtocolId
            || p.StartsWith(EchoProtocolPrefix, StringComparison.Ordinal));

    /// <summary>The prefix of the chat's own protocols (history, profile, direct messages, files).</summary>
    private const string EchoProtocolPrefix = "/echo/";
}
