namespace Echo.Net.Pubsub;

/// <summary>Router-wide counters (touched under the router's lock).</summary>
internal sealed class RouterCounters
{
    public long Heartbeats;
    public long Delivered;
    public long Forwarded;
    public long Duplicates;
    public long InvalidMessages;
    public long IWantSent;
    public long IWantAnswered;
    public long BrokenPromises;

    /// <summary>Publishes that waited MaxPublishWait for a full peer queue in vain.</summary>
    public long PublishWaitsExpired;

    /// <summary>IHAVEs of the gossip window sent to a peer as its subscription arrived.</summary>
    public long RecentOffered;
}

/// <summary>One peer's counters for logs and tests; each is changed with <see cref="Interlocked"/>.</summary>
internal sealed class PeerCounters
{
    public long RpcsReceived;
    public long RpcsQueued;
    public long RpcsIgnored;
    public long MessagesSent;
    public long RpcsDropped;
    public long InvalidMessages;
    public long SubscriptionsIgnored;
}

/// <summary>A copy of one peer's router state, for tests and diagnostics.</summary>
internal sealed record PeerSnapshot(string? Protocol, bool HasOutbound, int Topics, long RpcsReceived, long RpcsIgnored,
    long RpcsQueued, long MessagesSent, long RpcsDropped, long QueuedBytes, long InvalidMessages, long SubscriptionsIgnored,
    int DontSendCount)
{
    /// <summary>The snapshot of <paramref name="peer"/>; call it under the router's lock.</summary>
    public static PeerSnapshot Of(PubsubPeer peer)
    {
        PeerCounters c = peer.Counters;
        return new PeerSnapshot(peer.EffectiveProtocol, peer.Streams.Outbound is not null, peer.Topics.Count,
            Interlocked.Read(ref c.RpcsReceived), Interlocked.Read(ref c.RpcsIgnored), Interlocked.Read(ref c.RpcsQueued),
            Interlocked.Read(ref c.MessagesSent), Interlocked.Read(ref c.RpcsDropped), peer.Streams.QueuedBytes,
            Interlocked.Read(ref c.InvalidMessages), Interlocked.Read(ref c.SubscriptionsIgnored), peer.DontSend.Count);
    }
}
