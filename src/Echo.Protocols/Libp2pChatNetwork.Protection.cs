using Echo.Net.Identity;
using Echo.Protocols.Rooms;

namespace Echo.Protocols;

/// <summary>
/// Peers the user chose to talk to are protected from the host's connection manager
/// (docs/LIMITS.md, L-connmgr) for the rest of the session: the ones we sent a direct message to and
/// the ones we fetch a file from. Only what we start counts: a stranger cannot protect itself by
/// messaging us or asking for our files. So are, while it lasts, the peers in our gossipsub mesh of a
/// joined room (the router picks and scores them; a stranger cannot graft itself in past its score),
/// and remembered peers our own dial reached (the peer book lists inbound strangers too; they are not protected).
/// </summary>
public sealed partial class Libp2pChatNetwork
{
    /// <summary>Tag of a peer we sent a direct message to.</summary>
    internal const string DirectTag = "dm";

    /// <summary>Tag of a peer we fetch a file from.</summary>
    internal const string TransferTag = "transfer";

    /// <summary>Tag of a peer in our mesh of a joined room.</summary>
    internal const string MeshTag = "room-mesh";

    /// <summary>Tag of a remembered peer our dial reached.</summary>
    internal const string RememberedTag = "remembered";

    /// <summary>How often the mesh protection follows the router's meshes; well within the manager's grace for a new connection.</summary>
    internal static readonly TimeSpan MeshProtectionInterval = TimeSpan.FromSeconds(5);

    private readonly HashSet<PeerId> _meshProtected = [];

    /// <summary>Protects the peers now in our mesh of any joined room and unprotects those that left it; returns how many are protected.</summary>
    internal int RefreshMeshProtection()
    {
        string[] rooms;
        lock (_gate)
            rooms = [.. _rooms.Keys];
        HashSet<PeerId> mesh = [];
        foreach (string room in rooms)
            mesh.UnionWith(_router.MeshPeers(RoomTopic.ForRoom(room)));
        lock (_meshProtected)
        {
            foreach (PeerId peer in mesh)
            {
                if (_meshProtected.Add(peer))
                    _host.Resources.ConnectionManager.Protect(peer, MeshTag);
            }
            _meshProtected.RemoveWhere(peer =>
            {
                if (mesh.Contains(peer))
                    return false;
                _host.Resources.ConnectionManager.Unprotect(peer, MeshTag);
                return true;
            });
            return _meshProtected.Count;
        }
    }

    private async Task MeshProtectionLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            using PeriodicTimer timer = new(MeshProtectionInterval, _time);
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
                RefreshMeshProtection();
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A connected peer is protected when the peer book says our dial reached it (this time or before).</summary>
    private void ProtectIfDialed(PeerId peer)
    {
        if (_book is not null && _book.WasDialed(peer))
            _host.Resources.ConnectionManager.Protect(peer, RememberedTag);
    }

    private void ProtectChosenPeer(string peerId, string tag)
    {
        if (PeerId.TryParse(peerId, out PeerId? peer) && peer is not null)
            _host.Resources.ConnectionManager.Protect(peer, tag);
    }
}
