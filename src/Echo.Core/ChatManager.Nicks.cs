using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Core;

/// <summary>
/// Peers' nicks: announced by the peers themselves on connect (<see cref="IProfileNetwork"/>), learned
/// from room messages, synced history and direct messages (the stored ones at start too); peers
/// that share a nick are shown apart (<c>nick@tag</c>) and /msg with a shared nick lists them.
/// </summary>
public sealed partial class ChatManager
{
    /// <summary>How many peers' nicks are kept; a flood of strangers makes the oldest unannounced ones go.</summary>
    private const int MaxKnownNicks = 100_000;

    private readonly NickBook _book = new(MaxKnownNicks);

    /// <summary>
    /// How views name <paramref name="peerId"/>: its nick, or <c>nick@tag</c> when another known peer
    /// uses the same nick; null when no nick is known.
    /// </summary>
    public string? LabelOf(string peerId)
    {
        lock (_gate)
        {
            return _book.NickOf(peerId) is not { } nick ? null
                : _book.IsShared(peerId, nick) ? $"{nick}@{PeerInfo.IdTag(peerId)}" : nick;
        }
    }

    /// <summary>Tells the network our nick (before start, and on every change) when it can announce it.</summary>
    private void AnnounceNick(string nick) => (_network as IProfileNetwork)?.AnnounceNick(nick);

    /// <summary>At start: our nick for the network, and the nicks of the stored direct conversations.</summary>
    private async Task StartNicksAsync(CancellationToken cancellationToken)
    {
        AnnounceNick(Nick);
        if (_direct is null)
            return;
        IReadOnlyList<DirectMessage> recent = await RecentDirectMessagesAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            foreach (DirectMessage message in recent)
            {
                if (!message.Outgoing)
                    LearnNickLocked(message.PeerId, message.Nick, NickSource.History);
            }
        }
    }

    /// <summary>A peer announced its nick: it replaces what we knew, and a change is told to the user.</summary>
    private void ApplyNickAnnounced(PeerNickAnnounced announced)
    {
        lock (_gate)
        {
            string? before = _book.NickOf(announced.PeerId);
            string beforeLabel = before is not null && _book.IsShared(announced.PeerId, before)
                ? $"{before}@{PeerInfo.IdTag(announced.PeerId)}" : before ?? "";
            if (LearnNickLocked(announced.PeerId, announced.Nick, NickSource.Profile) is { Length: > 0 })
            {
                string after = _book.IsShared(announced.PeerId, announced.Nick)
                    ? $"{announced.Nick}@{PeerInfo.IdTag(announced.PeerId)}" : announced.Nick;
                PublishLocked(new NoticeEvent($"{SafeText.ForDisplay(beforeLabel)} is now known as {SafeText.ForDisplay(after)}"));
            }
        }
    }

    private void LearnDirectNick(string peerId, string nick)
    {
        lock (_gate)
            LearnNickLocked(peerId, nick, NickSource.Message);
    }

    /// <summary>
    /// A message as the views get it: its author's nick learned (live ones as current, past ones
    /// only where nothing newer is known) and tagged when another peer uses the same nick.
    /// </summary>
    private ChatMessage ShowLocked(ChatMessage message)
    {
        if (message.Origin == MessageOrigin.Local || message.SenderId == _network.LocalPeerId)
            return message;
        LearnNickLocked(message.SenderId, message.SenderNick, message.FromHistory ? NickSource.History : NickSource.Message);
        return _book.IsShared(message.SenderId, message.SenderNick)
            ? message with { SenderTag = PeerInfo.IdTag(message.SenderId) }
            : message;
    }

    /// <summary>A connected peer with the nick we know and whether another peer shares it.</summary>
    private PeerInfo LabelLocked(PeerInfo peer)
    {
        string? nick = _book.NickOf(peer.PeerId) ?? peer.Nick;
        return peer with { Nick = nick, SharedNick = nick is not null && _book.IsShared(peer.PeerId, nick) };
    }

    /// <summary>
    /// Records <paramref name="nick"/> for <paramref name="peerId"/> (never for our own id, nor the
    /// short id shown for a peer without a nick; views escape whatever a nick holds) and updates the connected peers whose nick or label changed. Returns the previous nick
    /// when it changed ("" when there was none), else null.
    /// </summary>
    private string? LearnNickLocked(string peerId, string nick, NickSource source)
    {
        if (peerId == _network.LocalPeerId || nick.Length == 0 || nick == PeerInfo.ShortPeerId(peerId))
            return null;
        string? old = _book.Learn(peerId, nick, source);
        if (old is null)
            return null;
        foreach (PeerInfo peer in _peers.Values.Where(p => p.PeerId == peerId || p.Nick == old || p.Nick == nick).ToList())
        {
            PeerInfo labelled = LabelLocked(peer);
            if (labelled != peer)
            {
                _peers[peer.PeerId] = labelled;
                PublishLocked(new PeerUpdatedEvent(labelled));
            }
        }
        return old;
    }

    /// <summary>
    /// A peer id for <paramref name="target"/>: a peer id as given; the one peer using it as its nick;
    /// or, as <c>nick@tag</c>, the one peer with that nick whose id ends with the tag. With several
    /// candidates it lists them (nick@tag and peer id) and returns null; with none, it says so.
    /// </summary>
    private string? ResolvePeer(string target)
    {
        lock (_gate)
        {
            if (_peers.ContainsKey(target) || _book.Knows(target))
                return target;
            string nick = target;
            string[] candidates = PeersWithLocked(target);
            int at = target.LastIndexOf('@');
            if (candidates.Length == 0 && at > 0 && target.Length - at - 1 >= MinTagLength)
            {
                nick = target[..at];
                string tag = target[(at + 1)..];
                candidates = [.. PeersWithLocked(nick).Where(p => p.EndsWith(tag, StringComparison.Ordinal))];
            }
            if (candidates.Length == 1)
                return candidates[0];
            if (candidates.Length > 1)
            {
                IEnumerable<string> lines = candidates.Select(p =>
                    $"  {SafeText.ForDisplay(nick)}@{PeerInfo.IdTag(p)}  {p}{(_peers.ContainsKey(p) ? "  (connected)" : "")}");
                PublishLocked(new ErrorEvent(
                    $"{SafeText.ForDisplay(nick)} is the nick of {candidates.Length} peers; say which with /msg {SafeText.ForDisplay(nick)}@<id> or the peer id:\n" +
                    string.Join('\n', lines)));
                return null;
            }
        }
        if (LooksLikePeerId(target))
            return target;
        Publish(new ErrorEvent($"no peer known as {SafeText.ForDisplay(target)}; give a nick, nick@<id> or a peer id"));
        return null;
    }

    /// <summary>The shortest id tag /msg nick@tag accepts.</summary>
    private const int MinTagLength = 4;

    /// <summary>The peers using <paramref name="nick"/>: connected ones first, each once.</summary>
    private string[] PeersWithLocked(string nick) =>
        [.. _book.PeersWith(nick).Concat(_peers.Values.Where(p => p.Nick == nick).Select(p => p.PeerId))
            .Distinct(StringComparer.Ordinal)
            .OrderBy(p => _peers.ContainsKey(p) ? 0 : 1)
            .ThenBy(p => p, StringComparer.Ordinal)];
}
