using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Core;

/// <summary>
/// Remembered peers (when the network offers <see cref="IPeerNetwork"/>): those that are away are
/// listed with their next redial ("reconnecting in Ns") and the nick they last announced (so /msg
/// and /forget find them by it) until they connect or are forgotten (/forget), and /connect says
/// when the peer was connected already.
/// </summary>
public sealed partial class ChatManager
{
    private readonly Dictionary<string, PeerInfo> _away = new(StringComparer.Ordinal);

    /// <summary>Remembered peers that are away, next redial first.</summary>
    private IEnumerable<PeerInfo> AwayPeersLocked() => _away.Values.OrderBy(p => p.ReconnectAt);

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
        if (ResolveRemembered(target) is not { } peerId)
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

    /// <summary>
    /// The peer id <paramref name="target"/> names among the peers we know (connected or away): the
    /// id itself, a short id (its last characters, with or without the leading ellipsis) or a nick.
    /// Publishes the error and returns null when none or several match.
    /// </summary>
    private string? ResolveRemembered(string target)
    {
        string suffix = target.TrimStart('…');
        lock (_gate)
        {
            IEnumerable<PeerInfo> known = _peers.Values.Concat(_away.Values);
            if (known.Any(p => p.PeerId == target))
                return target;
            string[] candidates = [.. known
                .Where(p => (suffix.Length >= 6 && p.PeerId.EndsWith(suffix, StringComparison.Ordinal))
                    || (p.Nick ?? _book.NickOf(p.PeerId)) == target)
                .Select(p => p.PeerId)
                .Distinct(StringComparer.Ordinal)];
            if (candidates.Length == 1)
                return candidates[0];
            if (candidates.Length > 1)
            {
                PublishLocked(new ErrorEvent($"{SafeText.ForDisplay(target)} matches {candidates.Length} peers: "
                    + string.Join(", ", candidates) + "; give the peer id"));
                return null;
            }
        }
        if (LooksLikePeerId(target))
            return target;
        Publish(new ErrorEvent($"no remembered peer known as {SafeText.ForDisplay(target)}; /peers lists them"));
        return null;
    }

    /// <summary>Remembered peers going away, being rescheduled, coming back or being forgotten.</summary>
    private void ApplyPeers(NetworkEvent networkEvent)
    {
        switch (networkEvent)
        {
            case PeerJoined joined:
                lock (_gate)
                    _away.Remove(joined.Peer.PeerId);
                break;
            case PeerReconnecting { Peer: var remembered }:
                lock (_gate)
                {
                    if (_peers.ContainsKey(remembered.PeerId))
                        break;          // connected again before this schedule was read
                    if (remembered.Nick is { } nick && ChatLimits.CheckNick(nick) is null)
                        LearnNickLocked(remembered.PeerId, nick, NickSource.History);   // what it announced last time; anything fresher wins
                    PeerInfo peer = new(remembered.PeerId, remembered.Address ?? "", PeerSource.Remembered, remembered.LastSeen,
                        _book.NickOf(remembered.PeerId), ReconnectAt: remembered.NextDial ?? DateTimeOffset.UtcNow);
                    _away[peer.PeerId] = peer;
                    PublishLocked(new PeerUpdatedEvent(peer));
                }
                break;
            case PeerForgotten forgotten:
                lock (_gate)
                {
                    if (_away.Remove(forgotten.PeerId, out PeerInfo? peer))
                        PublishLocked(new PeerDisconnectedEvent(peer));
                }
                break;
        }
    }
}
