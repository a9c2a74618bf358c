namespace Echo.Net.ResourceManager;

/// <summary>The limit that refused a connection or a stream (counted in <see cref="ResourceSnapshot.Refused"/>).</summary>
public enum LimitKind
{
    /// <summary><see cref="Host.HostOptions.MaxInboundConnections"/>: inbound connections, in their handshake or open.</summary>
    InboundConnections,

    /// <summary><see cref="Host.HostOptions.MaxPendingInboundConnections"/>: handshakes in progress.</summary>
    PendingHandshakes,

    /// <summary><see cref="ResourceLimits.MaxConnectionsPerAddress"/>.</summary>
    ConnectionsPerAddress,

    /// <summary><see cref="ResourceLimits.MaxPendingPerAddress"/>.</summary>
    PendingHandshakesPerAddress,

    /// <summary>The descriptor budget below <c>RLIMIT_NOFILE</c>.</summary>
    Descriptors,

    /// <summary>Inbound streams of one protocol from one peer.</summary>
    StreamsPerProtocol,

    /// <summary><see cref="Host.HostOptions.HandshakeTimeout"/>: the handshake did not finish in time.</summary>
    HandshakeTimeout,

    /// <summary>A stream of a protocol not allowed on a limited (relayed) connection, either direction.</summary>
    LimitedConnection,

    /// <summary>The relay service's reservation caps (<see cref="Relay.RelayServiceOptions.MaxReservations"/>, per IP).</summary>
    RelayReservations,

    /// <summary>The relay service's circuit caps (<see cref="Relay.RelayServiceOptions.MaxCircuits"/>, per peer).</summary>
    RelayCircuits,

    /// <summary><see cref="ResourceLimits.MaxProviderRecords"/>: DHT provider records held in all.</summary>
    ProviderRecords,

    /// <summary><see cref="ResourceLimits.MaxProviderRecordsPerPeer"/>: DHT provider records of one provider peer.</summary>
    ProviderRecordsPerPeer,

    /// <summary><see cref="ResourceLimits.MaxProvidersPerKey"/>: providers of one DHT key.</summary>
    ProvidersPerKey,
}
