namespace Echo.Core.Peers;

/// <summary>
/// How a feature of the chat (direct messages, file sharing) names peers: it resolves what the
/// user typed to a peer id, asks a peer's nick and learns nicks from what arrives, through the
/// chat's <see cref="PeerDirectory"/> under the chat's lock; and it knows our own nick.
/// </summary>
internal sealed class PeerNames(Lock gate, PeerDirectory directory, Func<string> ownNick)
{
    /// <summary>Our nick now.</summary>
    public string Own => ownNick();

    /// <inheritdoc cref="PeerDirectory.Resolve"/>
    public string? Resolve(string target)
    {
        lock (gate)
            return directory.Resolve(target);
    }

    /// <summary>The nick <paramref name="peerId"/> uses, or its short id when none is known.</summary>
    public string NameOf(string peerId)
    {
        lock (gate)
            return directory.NickOf(peerId) ?? PeerInfo.ShortPeerId(peerId);
    }

    /// <summary>Learns <paramref name="nick"/> for <paramref name="peerId"/> from <paramref name="source"/>.</summary>
    public void Learn(string peerId, string nick, NickSource source)
    {
        lock (gate)
            directory.LearnNick(peerId, nick, source);
    }
}
