using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Core;

/// <summary>
/// The chat's side of its <see cref="PeerDirectory"/> (connected and remembered peers, nicks) and of
/// the peer ports: remembered peers (when the network offers <see cref="IPeerNetwork"/>) are listed
/// while away with their next redial and the nick they last announced (so /msg and /forget find them
/// by it) until they connect or are forgotten (/forget); /connect says when the peer was connected
/// already; our nick is announced when the network can (<see cref="IProfileNetwork"/>).
/// </summary>
public sealed partial class ChatManager
{
    private readonly PeerDirectory _directory;

    /// <summary>
    /// How views name <paramref name="peerId"/>: its nick, or <c>nick@tag</c> when another known peer
    /// uses the same nick; null when no nick is known.
    /// </summary>
    public string? LabelOf(string peerId)
    {
        lock (_gate)
            return _directory.LabelOf(peerId);
    }

    /// <summary>Tells the network our nick (before start, and on every change) when it can announce it.</summary>
    private void AnnounceNick(string nick) => (_network as IProfileNetwork)?.AnnounceNick(nick);

    /// <summary>At start: our nick for the network, and the stored direct conversations (with their peers' nicks).</summary>
    private async Task StartNicksAsync(CancellationToken cancellationToken)
    {
        AnnounceNick(Nick);
        if (_direct is not null)
            await _direct.LoadAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc cref="PeerDirectory.Resolve"/>
    private string? ResolvePeer(string target)
    {
        lock (_gate)
            return _directory.Resolve(target);
    }

    /// <summary>Dials through <see cref="IPeerNetwork"/> when the network has it, so a peer connected already is said so.</summary>
    private async Task<ConnectResult> DialAsync(string address, CancellationToken cancellationToken) =>
        _network is IPeerNetwork peers
            ? await peers.DialAsync(address, cancellationToken).ConfigureAwait(false)
            : new ConnectResult(await _network.ConnectAsync(address, cancellationToken).ConfigureAwait(false), AlreadyConnected: false);

    /// <summary>Forgets a remembered peer (a peer id, a short id or a nick): it is no longer listed or redialed.</summary>
    public async Task ForgetAsync(string target, CancellationToken cancellationToken)
    {
        if (_network is not IPeerNetwork peers)
        {
            Publish(new ErrorEvent("this network remembers no peers"));
            return;
        }
        string? peerId;
        lock (_gate)
            peerId = _directory.ResolveRemembered(target);
        if (peerId is null)
            return;
        bool forgotten;
        try
        {
            forgotten = await peers.ForgetAsync(peerId, cancellationToken).ConfigureAwait(false);
        }
        catch (ChatNetworkException e)
        {
            Publish(new ErrorEvent($"cannot forget {SafeText.ForDisplay(target)}: {e.Message}"));
            return;
        }
        Publish(forgotten
            ? new NoticeEvent($"forgot {peerId}; it is no longer redialed")
            : new ErrorEvent($"{SafeText.ForDisplay(target)} is not a remembered peer"));
    }

    /// <summary>Peers connecting, leaving, changing, announcing a nick, going away (rescheduled) or being forgotten.</summary>
    private void ApplyPeers(NetworkEvent networkEvent)
    {
        lock (_gate)
        {
            switch (networkEvent)
            {
                case PeerJoined joined:
                    _directory.Connected(joined.Peer);
                    break;
                case PeerLeft left:
                    _directory.Disconnected(left.PeerId);
                    break;
                case PeerChanged changed:
                    _directory.Changed(changed);
                    break;
                case PeerNickAnnounced announced:
                    _directory.NickAnnounced(announced);
                    break;
                case PeerReconnecting reconnecting:
                    _directory.Reconnecting(reconnecting);
                    break;
                case PeerForgotten forgotten:
                    _directory.Forgotten(forgotten.PeerId);
                    break;
            }
        }
        switch (networkEvent)
        {
            case PeerJoined joined:
                Log.PeerConnected(_logger, joined.Peer.PeerId, joined.Peer.Address);
                break;
            case PeerLeft left:
                Log.PeerDisconnected(_logger, left.PeerId);
                break;
        }
    }
}
