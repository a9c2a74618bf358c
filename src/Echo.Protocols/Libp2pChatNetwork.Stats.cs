using System.Runtime.CompilerServices;
using Echo.Core;
using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.ResourceManager;

namespace Echo.Protocols;

/// <summary>
/// <see cref="NodeStats"/> for /stats: connections by direction from the host, and what the chat
/// protocols' limits refused (history serving, identify pushes, warnings held back), merged with
/// the host's own resource counters (<see cref="HostResources"/>).
/// </summary>
public sealed partial class Libp2pChatNetwork : INodeStatsSource
{
    /// <summary>Repeated warnings a peer can trigger: one per peer and kind a minute, with the count held back.</summary>
    private readonly WarningLimiter _warnings = new();

    /// <summary>Connections on which "identified" already started history sync (work it triggers once per connection); a closed one drops out by itself.</summary>
    private readonly ConditionalWeakTable<Connection, object> _identifiedOnce = [];

    /// <summary>Identify pushes whose work (history sync) was not started again on the same connection.</summary>
    private long _identifyRepeats;

    /// <inheritdoc />
    public NodeStats GetStats()
    {
        int inbound = 0, outbound = 0;
        foreach (Connection connection in _host.Connections)
        {
            if (connection.Direction == ConnectionDirection.Inbound)
                inbound++;
            else
                outbound++;
        }
        Dictionary<string, long> refused = new(StringComparer.Ordinal);
        if (_history is not null)
        {
            foreach ((string name, long count) in _history.Refusals)
                refused[name] = count;
        }
        long repeats = Interlocked.Read(ref _identifyRepeats);
        if (repeats > 0)
            refused["identify.repeat-sync"] = repeats;
        if (_warnings.SuppressedTotal > 0)
            refused["log.warnings-held-back"] = _warnings.SuppressedTotal;
        HostResourceStats host = HostResources();
        foreach ((string name, long count) in host.Refused)
            refused[name] = refused.GetValueOrDefault(name) + count;
        return new NodeStats(inbound, outbound, host.Streams, host.MemoryInUse, host.MemoryBudget, refused)
        {
            BootstrapPeers = _bootstrapper?.Peers.Count,
            BootstrapConnected = _bootstrapper?.ConnectedCount,
            DhtProviderRecords = _kad is null ? null : _host.Resources.ProviderRecords.Held,
        };
    }

    /// <summary>What the host's resource manager counts: open streams, the buffer budget and its refusals by limit name.</summary>
    private sealed record HostResourceStats(int? Streams, long? MemoryInUse, long? MemoryBudget, IReadOnlyDictionary<string, long> Refused);

    /// <summary>
    /// The host's resource counters: open streams, the buffer budget in use, and the refusals of the
    /// connection, stream, descriptor and memory limits, the connections trimmed and the identify
    /// pushes refused, by the names docs/LIMITS.md lists.
    /// </summary>
    private HostResourceStats HostResources()
    {
        ResourceSnapshot resources = _host.ResourceSnapshot();
        MemoryBudgetSnapshot memory = _host.MemoryBudget.Snapshot();
        Dictionary<string, long> refused = new(StringComparer.Ordinal);
        foreach ((LimitKind kind, long count) in resources.Refused)
        {
            if (count > 0)
                refused[RefusalName(kind)] = count;
        }
        void Add(string name, long count)
        {
            if (count > 0)
                refused[name] = count;
        }
        Add("conn.trimmed", resources.TrimmedConnections);
        Add("memory.budget", memory.RefusedByLimit);
        Add("memory.peer-share", memory.RefusedByPeerShare);
        Add("memory.connection-share", memory.RefusedByConnectionShare);
        Add("identify.push-rate", _host.IdentifyPushesRefused);
        return new HostResourceStats(resources.Streams, memory.InUseBytes, memory.LimitBytes, refused);
    }

    private static string RefusalName(LimitKind kind) => kind switch
    {
        LimitKind.InboundConnections => "conn.inbound",
        LimitKind.PendingHandshakes => "conn.handshakes",
        LimitKind.ConnectionsPerAddress => "conn.per-address",
        LimitKind.PendingHandshakesPerAddress => "conn.handshakes-per-address",
        LimitKind.HandshakeTimeout => "conn.handshake-timeout",
        LimitKind.Descriptors => "fd.budget",
        LimitKind.StreamsPerProtocol => "stream.per-protocol",
        LimitKind.LimitedConnection => "stream.limited-conn",
        LimitKind.RelayReservations => "relay.reservations",
        LimitKind.RelayCircuits => "relay.circuits",
        LimitKind.ProviderRecords => "dht.provider-records",
        LimitKind.ProviderRecordsPerPeer => "dht.provider-records-per-peer",
        LimitKind.ProvidersPerKey => "dht.providers-per-key",
        _ => kind.ToString(),
    };

    /// <summary>True the first time "identified" on <paramref name="connection"/> asks for history sync; false after (counted).</summary>
    private bool FirstIdentified(Connection connection)
    {
        if (connection.IsClosed)
            return false;
        if (_identifiedOnce.TryAdd(connection, connection))
            return true;
        Interlocked.Increment(ref _identifyRepeats);
        return false;
    }
}
