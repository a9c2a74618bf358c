using System.Net;
using Echo.Net.Identity;

namespace Echo.Net.ResourceManager;

/// <summary>
/// The connection and stream side of a host's resource manager: it counts what connections and
/// inbound streams hold, refuses what a limit does not allow (counting each refusal by limit), and
/// owns the <see cref="ConnectionManager"/> and the <see cref="DescriptorBudget"/>. Every limit is
/// reserved before the resource is used: an inbound connection before its handshake, a stream
/// before its handler, a descriptor before a socket is dialed or a file opened.
/// </summary>
public sealed class HostResources
{
    private readonly long[] _refused = new long[Enum.GetValues<LimitKind>().Length];
    private readonly ConnectionLimiter _connections;
    private int _openInbound;
    private int _openOutbound;
    private long _trimmed;

    internal HostResources(int maxInbound, int maxPending, ResourceLimits limits)
    {
        Limits = limits;
        _connections = new ConnectionLimiter(maxInbound, maxPending, limits);
        ConnectionManager = new ConnectionManager(limits);
        Descriptors = new DescriptorBudget(limits);
        ProviderRecords = new ProviderRecordScope(this, limits);
    }

    public ResourceLimits Limits { get; }

    /// <summary>Protects peers from trimming; see <see cref="ResourceManager.ConnectionManager"/>.</summary>
    public ConnectionManager ConnectionManager { get; }

    /// <summary>The descriptors connections and served files may hold; a file server takes a lease per open file.</summary>
    public DescriptorBudget Descriptors { get; }

    /// <summary>The DHT provider records held (server mode), each reserved here before it is stored.</summary>
    public ProviderRecordScope ProviderRecords { get; }

    internal ConnectionLimiter Connections => _connections;

    internal StreamLimiter Streams { get; } = new();

    /// <summary>
    /// Counts an accepted inbound socket from <paramref name="remote"/> before its handshake, with a
    /// descriptor for it; null (and the refusing limit, counted) when a limit is reached. A null
    /// <paramref name="remote"/> (a relayed circuit) is under no per-address cap.
    /// </summary>
    internal ConnectionSlot? TryOpenInbound(IPAddress? remote, out LimitKind refusal)
    {
        InboundSlot? inbound = _connections.TryOpen(remote, out refusal);
        if (inbound is null)
        {
            CountRefusal(refusal);
            return null;
        }
        DescriptorLease? descriptor = Descriptors.TryReserve();
        if (descriptor is null)
        {
            inbound.Release();
            refusal = LimitKind.Descriptors;
            CountRefusal(refusal);
            return null;
        }
        return new ConnectionSlot(this, inbound, descriptor);
    }

    /// <summary>A descriptor for a dial; null (counted) when the budget is used up.</summary>
    internal ConnectionSlot? TryOpenOutbound()
    {
        DescriptorLease? descriptor = Descriptors.TryReserve();
        if (descriptor is null)
        {
            CountRefusal(LimitKind.Descriptors);
            return null;
        }
        return new ConnectionSlot(this, null, descriptor);
    }

    /// <summary>Counts one more inbound stream of <paramref name="protocol"/> from <paramref name="peer"/>; false (counted) at the limit.</summary>
    internal bool TryOpenStream(PeerId peer, string protocol, int limit)
    {
        if (Streams.TryAcquire(peer, protocol, limit))
            return true;
        CountRefusal(LimitKind.StreamsPerProtocol);
        return false;
    }

    internal void CloseStream(PeerId peer, string protocol) => Streams.Release(peer, protocol);

    internal void CountRefusal(LimitKind kind) => Interlocked.Increment(ref _refused[(int)kind]);

    internal void CountTrimmed() => Interlocked.Increment(ref _trimmed);

    internal void Opened(bool inbound) => Interlocked.Increment(ref inbound ? ref _openInbound : ref _openOutbound);

    internal void Closed(bool inbound) => Interlocked.Decrement(ref inbound ? ref _openInbound : ref _openOutbound);

    /// <summary>The counters now; <paramref name="streams"/> is what the host's connections have open.</summary>
    internal ResourceSnapshot Snapshot(int streams)
    {
        Dictionary<LimitKind, long> refused = [];
        foreach (LimitKind kind in Enum.GetValues<LimitKind>())
            refused[kind] = Interlocked.Read(ref _refused[(int)kind]);
        return new ResourceSnapshot(Volatile.Read(ref _openInbound), Volatile.Read(ref _openOutbound), _connections.Pending,
            streams, Streams.Total, Descriptors.InUse, Descriptors.Limit, Interlocked.Read(ref _trimmed), refused)
        {
            ProviderRecords = ProviderRecords.Held,
        };
    }
}

/// <summary>
/// What one connection holds of the resource manager: its inbound slot (none for an outbound one)
/// and its descriptor. <see cref="MarkOpen"/> when the handshake finished; disposing releases all,
/// once.
/// </summary>
internal sealed class ConnectionSlot : IDisposable
{
    private readonly HostResources _owner;
    private readonly InboundSlot? _inbound;
    private readonly DescriptorLease _descriptor;
    private int _state;   // 0 handshake, 1 open, 2 released

    internal ConnectionSlot(HostResources owner, InboundSlot? inbound, DescriptorLease descriptor)
    {
        _owner = owner;
        _inbound = inbound;
        _descriptor = descriptor;
    }

    public void MarkOpen()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
            return;
        _inbound?.HandshakeDone();
        _owner.Opened(_inbound is not null);
    }

    public void Dispose()
    {
        int was = Interlocked.Exchange(ref _state, 2);
        if (was == 2)
            return;
        if (was == 1)
            _owner.Closed(_inbound is not null);
        _inbound?.Release();
        _descriptor.Dispose();
    }
}
