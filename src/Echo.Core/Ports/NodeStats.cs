namespace Echo.Core.Ports;

/// <summary>
/// What the node holds and what its limits refused, for /stats and the headless <c>stats</c> event.
/// Counts that a network cannot tell are null.
/// </summary>
/// <param name="ConnectionsIn">Open inbound connections.</param>
/// <param name="ConnectionsOut">Open outbound connections.</param>
/// <param name="Streams">Open streams over every connection, when the network counts them.</param>
/// <param name="MemoryInUse">Bytes of the buffer budget reserved now, when there is a budget.</param>
/// <param name="MemoryBudget">The buffer budget in bytes, when there is one.</param>
/// <param name="Refused">
/// How often each limit refused something, by limit name (<c>history.peer-rate</c>,
/// <c>store.author-rate</c>…); names not listed refused nothing.
/// </param>
public sealed record NodeStats(
    int ConnectionsIn,
    int ConnectionsOut,
    int? Streams,
    long? MemoryInUse,
    long? MemoryBudget,
    IReadOnlyDictionary<string, long> Refused)
{
    /// <summary>No connections, nothing known, nothing refused: a network that reports no statistics.</summary>
    public static NodeStats Empty { get; } = new(0, 0, null, null, null, new Dictionary<string, long>());

    /// <summary>Bootstrap peers configured (<c>--bootstrap</c>, <c>--public</c>); null when the public network is off.</summary>
    public int? BootstrapPeers { get; init; }

    /// <summary>Bootstrap peers connected now; null when the public network is off.</summary>
    public int? BootstrapConnected { get; init; }

    /// <summary>DHT provider records this node holds for others (server mode); null when the DHT is off.</summary>
    public int? DhtProviderRecords { get; init; }

    /// <summary>These statistics with <paramref name="more"/> refusal counts added (summed where a name is in both).</summary>
    public NodeStats WithRefusals(IReadOnlyDictionary<string, long> more)
    {
        if (more.Count == 0)
            return this;
        Dictionary<string, long> refused = new(Refused, StringComparer.Ordinal);
        foreach ((string name, long count) in more)
            refused[name] = refused.GetValueOrDefault(name) + count;
        return this with { Refused = refused };
    }
}

/// <summary>A network that reports its <see cref="NodeStats"/> (the libp2p network does).</summary>
public interface INodeStatsSource
{
    /// <summary>The counts as of now.</summary>
    NodeStats GetStats();
}
