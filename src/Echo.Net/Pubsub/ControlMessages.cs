using Google.Protobuf;

namespace Echo.Net.Pubsub;

// The control section of an RPC as the router reasons about it (rust-libp2p's ControlAction), so that
// the decisions in PubsubRouter.Control.cs and .Heartbeat.cs do not depend on the protobuf types. Ids
// received stay the wire bytes until a handler has checked their length (a full control section costs
// no more than before); a missing topic is null.

/// <summary>IHAVE: the sender has these messages of <paramref name="Topic"/> in its gossip window.</summary>
internal sealed record IHave(string? Topic, IReadOnlyList<ReadOnlyMemory<byte>> Ids);

/// <summary>IWANT: the sender asks for these messages (after our IHAVE).</summary>
internal sealed record IWant(IReadOnlyList<ReadOnlyMemory<byte>> Ids);

/// <summary>GRAFT: the sender added us to its mesh of <paramref name="Topic"/>.</summary>
internal sealed record Graft(string? Topic);

/// <summary>
/// PRUNE: the sender removed us from its mesh of <paramref name="Topic"/> and asks us not to GRAFT
/// back for <paramref name="BackoffSeconds"/> (meshsub 1.1+; null when absent). <paramref name="Px"/>
/// holds the peer ids of its peer exchange, as sent (empty when an entry has none).
/// </summary>
internal sealed record Prune(string? Topic, ulong? BackoffSeconds, IReadOnlyList<ReadOnlyMemory<byte>> Px);

/// <summary>IDONTWANT (meshsub 1.2): the sender already has these messages; do not forward them to it.</summary>
internal sealed record IDontWant(IReadOnlyList<ReadOnlyMemory<byte>> Ids);

/// <summary>One RPC's control section: what it holds of each kind, in wire order.</summary>
internal sealed class ControlMessage
{
    public IReadOnlyList<IHave> IHaves { get; init; } = [];

    public IReadOnlyList<IWant> IWants { get; init; } = [];

    public IReadOnlyList<Graft> Grafts { get; init; } = [];

    public IReadOnlyList<Prune> Prunes { get; init; } = [];

    public IReadOnlyList<IDontWant> IDontWants { get; init; } = [];

    /// <summary>The records of a decoded control section (already bounded by the codec's MaxControlBytes).</summary>
    public static ControlMessage FromPb(Pb.ControlMessage pb) => new()
    {
        IHaves = [.. pb.Ihave.Select(i => new IHave(i.HasTopicID ? i.TopicID : null, Ids(i.MessageIDs)))],
        IWants = [.. pb.Iwant.Select(i => new IWant(Ids(i.MessageIDs)))],
        Grafts = [.. pb.Graft.Select(g => new Graft(g.HasTopicID ? g.TopicID : null))],
        Prunes = [.. pb.Prune.Select(p => new Prune(p.HasTopicID ? p.TopicID : null, p.HasBackoff ? p.Backoff : null,
            [.. p.Peers.Select(info => info.HasPeerID ? info.PeerID.Memory : ReadOnlyMemory<byte>.Empty)]))],
        IDontWants = [.. pb.Idontwant.Select(i => new IDontWant(Ids(i.MessageIDs)))],
    };

    /// <summary>The protobuf form; every topic of a record we send is set.</summary>
    public Pb.ControlMessage ToPb()
    {
        Pb.ControlMessage pb = new();
        foreach (IHave ihave in IHaves)
        {
            Pb.ControlIHave entry = new() { TopicID = ihave.Topic };
            foreach (ReadOnlyMemory<byte> id in ihave.Ids)
                entry.MessageIDs.Add(ByteString.CopyFrom(id.Span));
            pb.Ihave.Add(entry);
        }
        foreach (IWant iwant in IWants)
        {
            Pb.ControlIWant entry = new();
            foreach (ReadOnlyMemory<byte> id in iwant.Ids)
                entry.MessageIDs.Add(ByteString.CopyFrom(id.Span));
            pb.Iwant.Add(entry);
        }
        foreach (Graft graft in Grafts)
            pb.Graft.Add(new Pb.ControlGraft { TopicID = graft.Topic });
        foreach (Prune prune in Prunes)
        {
            Pb.ControlPrune entry = new() { TopicID = prune.Topic };
            if (prune.BackoffSeconds is { } seconds)
                entry.Backoff = seconds;
            foreach (ReadOnlyMemory<byte> peer in prune.Px)
                entry.Peers.Add(new Pb.PeerInfo { PeerID = ByteString.CopyFrom(peer.Span) });
            pb.Prune.Add(entry);
        }
        foreach (IDontWant idontwant in IDontWants)
        {
            Pb.ControlIDontWant entry = new();
            foreach (ReadOnlyMemory<byte> id in idontwant.Ids)
                entry.MessageIDs.Add(ByteString.CopyFrom(id.Span));
            pb.Idontwant.Add(entry);
        }
        return pb;
    }

    /// <summary>An RPC that carries only this control section, encoded.</summary>
    public byte[] ToRpc() => new Pb.RPC { Control = ToPb() }.ToByteArray();

    private static ReadOnlyMemory<byte>[] Ids(IEnumerable<ByteString> ids) => [.. ids.Select(id => id.Memory)];
}
