namespace Echo.Net.ResourceManager;

/// <summary>
/// The resource manager's counters at one moment, for <c>/stats</c>: what is open now and how often
/// each limit refused something since the host started.
/// </summary>
/// <param name="InboundConnections">Open inbound connections (handshake finished).</param>
/// <param name="OutboundConnections">Open outbound connections.</param>
/// <param name="PendingHandshakes">Inbound connections in their handshake.</param>
/// <param name="Streams">Streams open on all connections, both directions.</param>
/// <param name="InboundStreams">Inbound streams being served by a handler.</param>
/// <param name="DescriptorsInUse">Descriptors held by connections and served files.</param>
/// <param name="DescriptorLimit">The descriptor budget.</param>
/// <param name="TrimmedConnections">Connections the connection manager closed.</param>
/// <param name="Refused">Refusals per limit since start (every <see cref="LimitKind"/> is present).</param>
public sealed record ResourceSnapshot(
    int InboundConnections,
    int OutboundConnections,
    int PendingHandshakes,
    int Streams,
    int InboundStreams,
    long DescriptorsInUse,
    long DescriptorLimit,
    long TrimmedConnections,
    IReadOnlyDictionary<LimitKind, long> Refused)
{
    /// <summary>DHT provider records held (<see cref="ProviderRecordScope"/>).</summary>
    public int ProviderRecords { get; init; }
}
