namespace Echo.Core.Peers;

/// <summary>Where a nick was learned, weakest first: a stronger source is never replaced by a weaker one.</summary>
internal enum NickSource
{
    /// <summary>From the past: synced or stored room messages, stored direct messages.</summary>
    History,

    /// <summary>From a live room message or direct message.</summary>
    Message,

    /// <summary>Announced by the peer itself in a record signed by its key.</summary>
    Profile,
}

/// <summary>
/// The nick each known peer uses now, and which peers share a nick. Not thread-safe: the chat
/// manager calls it under its lock. Bounded: when full, a nick that was not announced by its
/// peer makes room.
/// </summary>
internal sealed class NickBook(int capacity)
{
    private readonly Dictionary<string, (string Nick, NickSource Source)> _byPeer = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _byNick = new(StringComparer.Ordinal);

    /// <summary>How many peers have a nick here.</summary>
    public int Count => _byPeer.Count;

    /// <summary>The nick <paramref name="peerId"/> uses, or null.</summary>
    public string? NickOf(string peerId) => _byPeer.TryGetValue(peerId, out (string Nick, NickSource) entry) ? entry.Nick : null;

    /// <summary>True when a nick of <paramref name="peerId"/> is known.</summary>
    public bool Knows(string peerId) => _byPeer.ContainsKey(peerId);

    /// <summary>The peers that use <paramref name="nick"/> now.</summary>
    public IReadOnlyCollection<string> PeersWith(string nick) =>
        _byNick.TryGetValue(nick, out HashSet<string>? peers) ? peers : [];

    /// <summary>True when a peer other than <paramref name="peerId"/> uses <paramref name="nick"/>, so the two must be shown apart.</summary>
    public bool IsShared(string peerId, string nick) =>
        _byNick.TryGetValue(nick, out HashSet<string>? peers) && (peers.Count > 1 || !peers.Contains(peerId));

    /// <summary>
    /// Records that <paramref name="peerId"/> uses <paramref name="nick"/>, unless a stronger source
    /// said otherwise. Returns the nick it had before when the nick changed, "" when it had none, null
    /// when nothing changed.
    /// </summary>
    public string? Learn(string peerId, string nick, NickSource source)
    {
        string? old = null;
        if (_byPeer.TryGetValue(peerId, out (string Nick, NickSource Source) known))
        {
            if (known.Source > source || (known.Nick == nick && known.Source == source))
                return null;
            if (known.Nick == nick)
            {
                _byPeer[peerId] = (nick, source);
                return null;
            }
            old = known.Nick;
            Remove(peerId, known.Nick);
        }
        else if (_byPeer.Count >= capacity)
        {
            MakeRoom();
        }
        _byPeer[peerId] = (nick, source);
        if (!_byNick.TryGetValue(nick, out HashSet<string>? peers))
            _byNick[nick] = peers = new HashSet<string>(StringComparer.Ordinal);
        peers.Add(peerId);
        return old ?? "";
    }

    private void MakeRoom()
    {
        foreach ((string peerId, (string Nick, NickSource Source) entry) in _byPeer)
        {
            if (entry.Source != NickSource.Profile)
            {
                _byPeer.Remove(peerId);
                Remove(peerId, entry.Nick);
                return;
            }
        }
        foreach ((string peerId, (string Nick, NickSource Source) entry) in _byPeer)
        {
            _byPeer.Remove(peerId);
            Remove(peerId, entry.Nick);
            return;
        }
    }

    private void Remove(string peerId, string nick)
    {
        if (_byNick.TryGetValue(nick, out HashSet<string>? peers) && peers.Remove(peerId) && peers.Count == 0)
            _byNick.Remove(nick);
    }
}
