using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Ports;

namespace Echo.Core.Peers;

/// <summary>
/// The peers the chat knows: the connected ones, remembered ones that are away (with their next
/// redial), and everyone's nick (<see cref="NickBook"/>: announced, or learned from messages).
/// Peers that share a nick are shown apart (<c>nick@tag</c>); a target typed by the user (a nick,
/// <c>nick@tag</c>, a short id or a peer id) resolves to one peer id, or is answered with an error.
/// Rooms and direct messages share it.
/// </summary>
/// <remarks>
/// Not thread-safe: the chat calls it under its lock, and what it publishes (peer updates, notices,
/// errors) is published under that lock, in order with the chat's other events.
/// </remarks>
internal sealed class PeerDirectory
{
    /// <summary>How many peers' nicks are kept; a flood of strangers makes the oldest unannounced ones go.</summary>
    private const int MaxKnownNicks = 100_000;

    /// <summary>The shortest id tag /msg nick@tag accepts.</summary>
    private const int MinTagLength = 4;

    private readonly Dictionary<string, PeerInfo> _peers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PeerInfo> _away = new(StringComparer.Ordinal);
    private readonly NickBook _book = new(MaxKnownNicks);
    private readonly Func<string> _localPeerId;
    private readonly Action<ChatEvent> _publish;

    /// <param name="localPeerId">Our peer id (never given a nick from others).</param>
    /// <param name="publish">Publishes an event; called under the chat's lock.</param>
    public PeerDirectory(Func<string> localPeerId, Action<ChatEvent> publish)
    {
        _localPeerId = localPeerId;
        _publish = publish;
    }

    /// <summary>Connected peers, oldest connection first, then remembered peers that are away, next redial first.</summary>
    public IReadOnlyList<PeerInfo> All => [.. _peers.Values.OrderBy(p => p.ConnectedSince), .. _away.Values.OrderBy(p => p.ReconnectAt)];

    /// <summary>True when <paramref name="peerId"/> is connected.</summary>
    public bool IsConnected(string peerId) => _peers.ContainsKey(peerId);

    /// <summary>The nick a peer uses now (announced, or from its messages), if known.</summary>
    public string? NickOf(string peerId) => _book.NickOf(peerId);

    /// <summary>How views name <paramref name="peerId"/>: its nick, or <c>nick@tag</c> when another known peer uses it; null without a nick.</summary>
    public string? LabelOf(string peerId) =>
        _book.NickOf(peerId) is not { } nick ? null : _book.IsShared(peerId, nick) ? $"{nick}@{PeerInfo.IdTag(peerId)}" : nick;

    /// <summary>A connected peer, else a remembered one that is away; null when neither.</summary>
    public PeerInfo? Find(string peerId) => _peers.GetValueOrDefault(peerId) ?? _away.GetValueOrDefault(peerId);

    /// <summary>A connected peer's away message (/away) changed: kept on its <see cref="PeerInfo"/> and published.</summary>
    public void AwayChanged(string peerId, string? reason)
    {
        if (!_peers.TryGetValue(peerId, out PeerInfo? peer) || peer.AwayReason == reason)
            return;
        peer = peer with { AwayReason = reason };
        _peers[peerId] = peer;
        _publish(new PeerUpdatedEvent(peer));
    }

    /// <summary>A peer connected (it is no longer away).</summary>
    public void Connected(PeerInfo joined)
    {
        PeerInfo peer = Label(joined);
        _peers[peer.PeerId] = peer;
        _publish(new PeerConnectedEvent(peer));
        _away.Remove(peer.PeerId);
    }

    /// <summary>A peer disconnected.</summary>
    public void Disconnected(string peerId)
    {
        if (_peers.Remove(peerId, out PeerInfo? peer))
            _publish(new PeerDisconnectedEvent(peer));
    }

    /// <summary>A connected peer's ping or kind changed.</summary>
    public void Changed(PeerChanged changed)
    {
        if (!_peers.TryGetValue(changed.PeerId, out PeerInfo? peer))
            return;
        peer = peer with
        {
            RoundTrip = changed.RoundTrip ?? peer.RoundTrip,
            IsEchoGo = changed.IsEchoGo ?? peer.IsEchoGo,
        };
        _peers[peer.PeerId] = peer;
        _publish(new PeerUpdatedEvent(peer));
    }

    /// <summary>A connected peer's connection changed (relay or direct): its address and path are kept and published.</summary>
    public void PathChanged(PeerPathChanged changed)
    {
        if (!_peers.TryGetValue(changed.PeerId, out PeerInfo? peer) || (peer.Relayed == changed.Relayed && peer.Address == changed.Address))
            return;
        peer = peer with { Address = changed.Address, Relayed = changed.Relayed, RelayReason = changed.Relayed ? peer.RelayReason : null };
        _peers[peer.PeerId] = peer;
        _publish(new PeerUpdatedEvent(peer));
    }

    /// <summary>The network said why a connected peer is relayed: kept (until it gets a direct connection) and published.</summary>
    public void RelayReasonChanged(PeerRelayReason reason)
    {
        if (!_peers.TryGetValue(reason.PeerId, out PeerInfo? peer) || !peer.Relayed || peer.RelayReason == reason.Reason)
            return;
        peer = peer with { RelayReason = reason.Reason };
        _peers[peer.PeerId] = peer;
        _publish(new PeerUpdatedEvent(peer));
    }

    /// <summary>A remembered peer is away and will be redialed; listed with the nick it announced last time.</summary>
    public void Reconnecting(PeerReconnecting reconnecting)
    {
        RememberedPeer remembered = reconnecting.Peer;
        if (_peers.ContainsKey(remembered.PeerId))
            return;          // connected again before this schedule was read
        if (remembered.Nick is { } nick && ChatLimits.CheckNick(nick) is null)
            LearnNick(remembered.PeerId, nick, NickSource.History);   // what it announced last time; anything fresher wins
        PeerInfo peer = new(remembered.PeerId, remembered.Address ?? "", PeerSource.Remembered, remembered.LastSeen,
            _book.NickOf(remembered.PeerId), ReconnectAt: remembered.NextDial ?? DateTimeOffset.UtcNow);
        _away[peer.PeerId] = peer;
        _publish(new PeerUpdatedEvent(peer));
    }

    /// <summary>A remembered peer was forgotten: no longer listed.</summary>
    public void Forgotten(string peerId)
    {
        if (_away.Remove(peerId, out PeerInfo? peer))
            _publish(new PeerDisconnectedEvent(peer));
    }

    /// <summary>A peer announced its nick: it replaces what we knew, and a change is told to the user.</summary>
    public void NickAnnounced(PeerNickAnnounced announced)
    {
        string? before = _book.NickOf(announced.PeerId);
        string beforeLabel = before is not null && _book.IsShared(announced.PeerId, before)
            ? $"{before}@{PeerInfo.IdTag(announced.PeerId)}" : before ?? "";
        if (LearnNick(announced.PeerId, announced.Nick, NickSource.Profile) is { Length: > 0 })
        {
            string after = _book.IsShared(announced.PeerId, announced.Nick)
                ? $"{announced.Nick}@{PeerInfo.IdTag(announced.PeerId)}" : announced.Nick;
            _publish(new NoticeEvent($"{SafeText.ForDisplay(beforeLabel)} is now known as {SafeText.ForDisplay(after)}"));
        }
    }

    /// <summary>
    /// A message as the views get it: its author's nick learned (live ones as current, past ones
    /// only where nothing newer is known) and tagged when another peer uses the same nick.
    /// </summary>
    public ChatMessage Show(ChatMessage message)
    {
        if (message.Origin == MessageOrigin.Local || message.SenderId == _localPeerId())
            return message;
        LearnNick(message.SenderId, message.SenderNick, message.FromHistory ? NickSource.History : NickSource.Message);
        return _book.IsShared(message.SenderId, message.SenderNick)
            ? message with { SenderTag = PeerInfo.IdTag(message.SenderId) }
            : message;
    }

    /// <summary>
    /// Records <paramref name="nick"/> for <paramref name="peerId"/> (never for our own id, nor the
    /// short id shown for a peer without a nick; views escape whatever a nick holds) and updates the
    /// connected peers whose nick or label changed. Returns the previous nick when it changed ("" when
    /// there was none), else null.
    /// </summary>
    public string? LearnNick(string peerId, string nick, NickSource source)
    {
        if (peerId == _localPeerId() || nick.Length == 0 || nick == PeerInfo.ShortPeerId(peerId))
            return null;
        string? old = _book.Learn(peerId, nick, source);
        if (old is null)
            return null;
        foreach (PeerInfo peer in _peers.Values.Where(p => p.PeerId == peerId || p.Nick == old || p.Nick == nick).ToList())
        {
            PeerInfo labelled = Label(peer);
            if (labelled != peer)
            {
                _peers[peer.PeerId] = labelled;
                _publish(new PeerUpdatedEvent(labelled));
            }
        }
        return old;
    }

    /// <summary>
    /// A peer id for <paramref name="target"/>: a peer id as given; the one peer using it as its nick;
    /// or, as <c>nick@tag</c>, the one peer with that nick whose id ends with the tag. With several
    /// candidates it lists them (nick@tag and peer id) and returns null; with none, it says so.
    /// </summary>
    public string? Resolve(string target)
    {
        if (_peers.ContainsKey(target) || _book.Knows(target))
            return target;
        string nick = target;
        string[] candidates = PeersWith(target);
        int at = target.LastIndexOf('@');
        if (candidates.Length == 0 && at > 0 && target.Length - at - 1 >= MinTagLength)
        {
            nick = target[..at];
            string tag = target[(at + 1)..];
            candidates = [.. PeersWith(nick).Where(p => p.EndsWith(tag, StringComparison.Ordinal))];
        }
        if (candidates.Length == 1)
            return candidates[0];
        if (candidates.Length > 1)
        {
            IEnumerable<string> lines = candidates.Select(p =>
                $"  {SafeText.ForDisplay(nick)}@{PeerInfo.IdTag(p)}  {p}{(_peers.ContainsKey(p) ? "  (connected)" : "")}");
            _publish(new ErrorEvent(
                $"{SafeText.ForDisplay(nick)} is the nick of {candidates.Length} peers; say which with /msg {SafeText.ForDisplay(nick)}@<id> or the peer id:\n" +
                string.Join('\n', lines)));
            return null;
        }
        if (LooksLikePeerId(target))
            return target;
        _publish(new ErrorEvent($"no peer known as {SafeText.ForDisplay(target)}; give a nick, nick@<id> or a peer id"));
        return null;
    }

    /// <summary>
    /// The peer id <paramref name="target"/> names among the peers we know (connected or away): the
    /// id itself, a short id (its last characters, with or without the leading ellipsis) or a nick.
    /// Publishes the error and returns null when none or several match.
    /// </summary>
    public string? ResolveRemembered(string target)
    {
        string suffix = target.TrimStart('…');
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
            _publish(new ErrorEvent($"{SafeText.ForDisplay(target)} matches {candidates.Length} peers: "
                + string.Join(", ", candidates) + "; give the peer id"));
            return null;
        }
        if (LooksLikePeerId(target))
            return target;
        _publish(new ErrorEvent($"no remembered peer known as {SafeText.ForDisplay(target)}; /peers lists them"));
        return null;
    }

    /// <summary>Base58 text of peer-id length (the network checks it properly when it dials).</summary>
    public static bool LooksLikePeerId(string text) =>
        text.Length is >= 40 and <= 128 && text.All(c => char.IsAsciiLetterOrDigit(c) && c is not ('0' or 'O' or 'I' or 'l'));

    /// <summary>A connected peer with the nick we know and whether another peer shares it.</summary>
    private PeerInfo Label(PeerInfo peer)
    {
        string? nick = _book.NickOf(peer.PeerId) ?? peer.Nick;
        return peer with { Nick = nick, SharedNick = nick is not null && _book.IsShared(peer.PeerId, nick) };
    }

    /// <summary>The peers using <paramref name="nick"/>: connected ones first, each once.</summary>
    private string[] PeersWith(string nick) =>
        [.. _book.PeersWith(nick).Concat(_peers.Values.Where(p => p.Nick == nick).Select(p => p.PeerId))
            .Distinct(StringComparer.Ordinal)
            .OrderBy(p => _peers.ContainsKey(p) ? 0 : 1)
            .ThenBy(p => p, StringComparer.Ordinal)];
}
