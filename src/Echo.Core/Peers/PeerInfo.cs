namespace Echo.Core.Peers;

/// <summary>How we came to know a peer.</summary>
public enum PeerSource
{
    /// <summary>We dialed it because the user asked (/connect, --connect).</summary>
    Manual,

    /// <summary>It dialed us.</summary>
    Inbound,

    /// <summary>Found on the local network.</summary>
    Mdns,

    /// <summary>We dialed it again because we were connected to it before.</summary>
    Remembered,

    /// <summary>We dialed it because the DHT named it a member of one of our rooms (or gave its address).</summary>
    Dht,
}

/// <summary>A connected peer as the user sees it, or a remembered one that is away (<see cref="ReconnectAt"/> set).</summary>
/// <param name="PeerId">The peer id (text form).</param>
/// <param name="Address">The address of the connection, with /p2p/.</param>
/// <param name="Source">How it was found.</param>
/// <param name="ConnectedSince">When the connection opened.</param>
/// <param name="Nick">The nick learned from its chat messages, if any yet.</param>
/// <param name="RoundTrip">The last measured ping round trip, if any.</param>
/// <param name="IsEchoGo">True when it speaks echo-go's line protocol.</param>
/// <param name="ReconnectAt">
/// Null while connected. For a remembered peer that is away: when it is dialed next (the faces show
/// "reconnecting in Ns"); <see cref="ConnectedSince"/> is then when it was last seen.
/// </param>
public sealed record PeerInfo(
    string PeerId,
    string Address,
    PeerSource Source,
    DateTimeOffset ConnectedSince,
    string? Nick = null,
    TimeSpan? RoundTrip = null,
    bool IsEchoGo = false,
    DateTimeOffset? ReconnectAt = null)
{
    /// <summary>True for a remembered peer that is not connected now.</summary>
    public bool IsAway => ReconnectAt is not null;

    /// <summary>"reconnecting in 5s" (whole seconds, at least 0) for an away peer at <paramref name="now"/>; null when connected.</summary>
    public string? ReconnectText(DateTimeOffset now) =>
        ReconnectAt is { } at
            ? "reconnecting in " + Math.Max(0, (int)Math.Ceiling((at - now).TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture) + "s"
            : null;

    /// <summary>The away message the peer announced (/away), or null when it is not away.</summary>
    public string? AwayReason { get; init; }

    /// <summary>True when the peer is reached through a relay (a limited connection: text only), false when directly.</summary>
    public bool Relayed { get; init; }

    /// <summary>Why the peer is still relayed (e.g. the hole punch failed), when the network said so; null otherwise.</summary>
    public string? RelayReason { get; init; }

    /// <summary>How the peer is reached, as the faces write it: <c>relay</c> or <c>direct</c>.</summary>
    public string Via => Relayed ? "relay" : "direct";

    /// <summary>True when another known peer uses the same nick, so faces show <see cref="Label"/> to tell them apart.</summary>
    public bool SharedNick { get; init; }

    /// <summary>What faces show for the peer: its nick, <c>nick@tag</c> when <see cref="SharedNick"/>, or "?".</summary>
    public string Label => Nick is null ? "?" : SharedNick ? $"{Nick}@{IdTag(PeerId)}" : Nick;

    /// <summary>The last 8 characters of a peer id: the tag in <c>nick@tag</c>, which /msg accepts.</summary>
    public static string IdTag(string peerId) => peerId.Length <= 8 ? peerId : peerId[^8..];

    /// <summary>The peer id shortened for display: its last 8 characters after an ellipsis.</summary>
    public string ShortId => ShortPeerId(PeerId);

    /// <summary>Shortens a peer id for display (its last 8 characters after an ellipsis).</summary>
    public static string ShortPeerId(string peerId) => peerId.Length <= 10 ? peerId : "…" + peerId[^8..];
}
