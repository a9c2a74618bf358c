using Echo.Net.Host;
using Echo.Net.Identity;

namespace Echo.Net.Pubsub;

/// <summary>
/// What the router knows about one pubsub peer: the protocol it speaks, its topics, the per-heartbeat
/// counters of the spam limits and its IDONTWANTs. Its streams and outbound queue are
/// <see cref="Streams"/>. Fields are touched under the router's lock, except <see cref="Counters"/>.
/// </summary>
internal sealed class PubsubPeer
{
    public PubsubPeer(PeerId id, Connection connection, PubsubPeerStreams streams)
    {
        Id = id;
        Connection = connection;
        Streams = streams;
    }

    public PeerId Id { get; }

    public Connection Connection { get; }

    /// <summary>The peer's streams and our outbound queue to it.</summary>
    public PubsubPeerStreams Streams { get; }

    public PeerCounters Counters { get; } = new();

    /// <summary>We dialed the connection; the v1.1 outbound mesh quota counts these.</summary>
    public bool IsOutbound => Connection.Direction == ConnectionDirection.Outbound;

    /// <summary>The protocol negotiated on our outbound stream (what we speak to the peer).</summary>
    public string? Protocol { get; set; }

    /// <summary>The protocol of the peer's stream to us, used until our own stream is open.</summary>
    public string? InboundProtocol { get; set; }

    public string? EffectiveProtocol => Protocol ?? InboundProtocol;

    public bool IsFloodsub => EffectiveProtocol == PubsubRouter.FloodsubProtocol;

    /// <summary>meshsub 1.1+ understands PRUNE backoff and PX.</summary>
    public bool SupportsBackoff => EffectiveProtocol is PubsubRouter.MeshsubV11 or PubsubRouter.MeshsubV12;

    public bool SupportsIDontWant => EffectiveProtocol == PubsubRouter.MeshsubV12;

    public HashSet<string> Topics { get; } = new(StringComparer.Ordinal);

    public bool Removed { get; set; }

    /// <summary>Removed because a newer connection to the same peer took over (its last RPCs still count).</summary>
    public bool Replaced { get; set; }

    // Per-heartbeat spam counters (gossipsub v1.1 "Spam Protection Measures").
    public int IHaveMessages { get; set; }

    public int IHaveIdsAsked { get; set; }

    public int IDontWantIds { get; set; }

    /// <summary>IDONTWANT ids from the peer, with the heartbeat they arrived in (forgotten after 3).</summary>
    public Dictionary<MessageId, long> DontSend { get; } = [];

    public override string ToString() => $"{Id.ToShortString()} ({EffectiveProtocol ?? "opening"})";
}
