using Echo.Net.Identity;

namespace Echo.Protocols;

/// <summary>
/// Peers the user chose to talk to are protected from the host's connection manager
/// (docs/LIMITS.md, L-connmgr) for the rest of the session: the ones we sent a direct message to and
/// the ones we fetch a file from. Only what we start counts: a stranger cannot protect itself by
/// messaging us or asking for our files.
/// </summary>
public sealed partial class Libp2pChatNetwork
{
    /// <summary>Tag of a peer we sent a direct message to.</summary>
    internal const string DirectTag = "dm";

    /// <summary>Tag of a peer we fetch a file from.</summary>
    internal const string TransferTag = "transfer";

    private void ProtectChosenPeer(string peerId, string tag)
    {
        if (PeerId.TryParse(peerId, out PeerId? peer) && peer is not null)
            _host.Resources.ConnectionManager.Protect(peer, tag);
    }
}
