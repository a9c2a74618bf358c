namespace Echo.Core.Ports;

/// <summary>
/// Nicks on connect: the network tells connected peers our nick (signed by our key) and reports the
/// nicks they announce as <see cref="PeerNickAnnounced"/>. Implemented by Echo.Protocols next to
/// <see cref="IChatNetwork"/>; without it nicks are learned only from messages.
/// </summary>
public interface IProfileNetwork
{
    /// <summary>
    /// Our nick as peers learn it. Set before start, it is sent to each peer that connects; set
    /// later, it is also pushed to every connected peer at once. Never blocks.
    /// </summary>
    void AnnounceNick(string nick);

    /// <summary>
    /// Our away message as peers learn it (null: not away), announced like the nick; peers report it as
    /// <see cref="PeerAwayAnnounced"/>. A network that cannot carry it ignores it.
    /// </summary>
    void AnnounceAway(string? reason)
    {
    }
}

/// <summary>A connected peer announced its nick in a record signed by its own key (newer than any before).</summary>
public sealed record PeerNickAnnounced(string PeerId, string Nick) : NetworkEvent;
