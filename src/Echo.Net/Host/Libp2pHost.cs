using System.Net.Sockets;
using Echo.Net.Addressing;
using Echo.Net.AutoNat;
using Echo.Net.Dcutr;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Noise;
using Echo.Net.Perf;
using Echo.Net.Ping;
using Echo.Net.ResourceManager;
using Echo.Net.Threading;
using Echo.Net.Transport.Tcp;
using Echo.Net.Yamux;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Host;

/// <summary>
/// A libp2p node: listens on TCP, dials multiaddrs, keeps one connection per peer, negotiates
/// protocols on streams and serves the registered stream handlers. Identify and ping are built in;
/// perf when <see cref="HostOptions.EnablePerf"/> is set.
/// </summary>
/// <remarks>
/// One connection per peer: concurrent dials to one peer share one attempt, and when both peers
/// dial each other at the same moment, both keep the connection dialed by the peer with the
/// smaller id (byte order), so the two ends agree without talking. A second inbound connection
/// from a connected peer replaces the first (the peer may have lost it). A dial by address to a
/// peer we already have is abandoned in its handshake and returns the existing connection.
/// </remarks>
public sealed class Libp2pHost : IAsyncDisposable
{
    private readonly KeyPair _identity;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, Connection> _connections = [];
    private readonly Dictionary<string, Task<Connection>> _dials = [];
    private readonly Dictionary<string, StreamHandler> _handlers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _streamLimits = new(StringComparer.Ordinal);
    private readonly HashSet<string> _allowedOnLimited = new(StringComparer.Ordinal)
    {
        IdentifyProtocol.ProtocolId, IdentifyProtocol.PushProtocolId, PingProtocol.ProtocolId, DcutrProtocolId,
    };
    private readonly ObservedAddressManager _observed;
    private IReadOnlyList<Multiaddr>? _lastAdvertised;
    private readonly SortedDictionary<string, IReadOnlyList<Multiaddr>> _extraAddresses = new(StringComparer.Ordinal);
    private readonly BackgroundTasks _background = new();
    private readonly ConnectionTrimmer _trimmer;
    private readonly List<(Socket Socket, Multiaddr Address)> _listeners = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILogger _connectionLogger;   // one for all connections (CreateLogger<T> builds a wrapper per call)
    private bool _started;
    private bool _disposed;

    public Libp2pHost(KeyPair identity, HostOptions options, ILoggerFactory loggerFactory, TimeProvider? time = null)
    {
        options.Validate();
        _identity = identity;
        Options = options;
        _loggers = loggerFactory;
        _logger = loggerFactory.CreateLogger<Libp2pHost>();
        _connectionLogger = loggerFactory.CreateLogger<Connection>();
        Time = time ?? TimeProvider.System;
        PeerStore = new PeerStore();
        MemoryBudget = new MemoryBudget(options.MemoryBudgetBytes);
        Resources = new HostResources(options.MaxInboundConnections, options.MaxPendingInboundConnections, options.Limits);
        _trimmer = new ConnectionTrimmer(this, _logger);
        AddressClassifier = new AddressClassifier(options.PublicRanges);
        _observed = new ObservedAddressManager(options.ObservedAddressThreshold, AddressClassifier);
        Identify = new IdentifyProtocol(this, loggerFactory.CreateLogger<IdentifyProtocol>());
        Ping = new PingProtocol(Time, loggerFactory.CreateLogger<PingProtocol>());
        SetStreamHandler(IdentifyProtocol.ProtocolId, Identify.HandleIdentifyAsync);
        SetStreamHandler(IdentifyProtocol.PushProtocolId, Identify.HandlePushAsync);
        SetStreamHandler(PingProtocol.ProtocolId, Ping.HandleAsync);
        if (options.EnablePerf)
            SetStreamHandler(PerfProtocol.ProtocolId, PerfProtocol.HandleAsync);
        if (options.EnableAutoNat)
            AutoNat = new AutoNatService(this, options.AutoNat, loggerFactory, Time);
        if (options.EnableDcutr)
        {
            Dcutr = new DcutrService(this, options.Dcutr, loggerFactory, Time);
            SetStreamHandler(DcutrProtocolId, Dcutr.HandleAsync, DcutrLimits.MaxInboundStreamsPerPeer);
        }
    }

    /// <summary>DCUtR's protocol id: allowed on limited connections, where hole punching is negotiated.</summary>
    public const string DcutrProtocolId = "/libp2p/dcutr";

    public PeerId PeerId => _identity.PeerId;

    /// <summary>Sorts addresses into public, private, loopback, link-local and circuit, with <see cref="HostOptions.PublicRanges"/>.</summary>
    public AddressClassifier AddressClassifier { get; }

    /// <summary>
    /// Candidate external addresses: addresses peers observed us at (identify), each reported by at
    /// least <see cref="HostOptions.ObservedAddressThreshold"/> distinct observers. Unverified: AutoNAT
    /// decides whether they are reachable.
    /// </summary>
    public IReadOnlyList<Multiaddr> ObservedAddresses => _observed.Trusted;

    /// <summary>Every address peers observe us at now, with its observer count and whether it is trusted (for <c>/addrs</c>).</summary>
    public IReadOnlyList<ObservedAddressCandidate> ObservedAddressCandidates => _observed.Candidates();

    /// <summary>
    /// Raised with the new <see cref="AdvertisedAddresses"/> when they change (a candidate from observed
    /// addresses was trusted or dropped). Connected peers are told by identify push.
    /// </summary>
    public event Action<IReadOnlyList<Multiaddr>>? AddressesChanged;

    public HostOptions Options { get; }

    public PeerStore PeerStore { get; }

    /// <summary>The process-wide budget for buffered inbound data; <see cref="MemoryBudget.Snapshot"/> shows its counters.</summary>
    public MemoryBudget MemoryBudget { get; }

    /// <summary>
    /// The resource manager: connection and stream limits, the connection manager (protect peers
    /// from trimming with <see cref="ConnectionManager.Protect"/>) and the descriptor budget.
    /// </summary>
    public HostResources Resources { get; }

    /// <summary>The resource manager's counters now (connections, streams, refusals per limit), for <c>/stats</c>.</summary>
    public ResourceSnapshot ResourceSnapshot()
    {
        int streams = 0;
        foreach (Connection connection in Connections)
            streams += connection.StreamCount;
        return Resources.Snapshot(streams);
    }

    /// <summary>Identify pushes refused because the peer pushed again within a second.</summary>
    public long IdentifyPushesRefused => Identify.PushesRefused;

    internal KeyPair IdentityKey => _identity;

    /// <summary>
    /// Signs <paramref name="payload"/> with this node's identity key as a libp2p signed envelope
    /// under <paramref name="domain"/> (<see cref="Records.SignedRecord"/>), e.g. a record peers
    /// verify against our peer id.
    /// </summary>
    public byte[] SealRecord(string domain, ReadOnlySpan<byte> payloadType, ReadOnlySpan<byte> payload) =>
        Records.SignedRecord.Seal(_identity, domain, payloadType, payload);

    internal TimeProvider Time { get; }

    /// <summary>AutoNAT (reachability), when <see cref="HostOptions.EnableAutoNat"/> is set; null otherwise.</summary>
    public AutoNatService? AutoNat { get; }

    /// <summary>DCUtR (direct connections in place of relayed ones), when <see cref="HostOptions.EnableDcutr"/> is set; null otherwise.</summary>
    public DcutrService? Dcutr { get; }

    internal IdentifyProtocol Identify { get; }

    internal PingProtocol Ping { get; }

    /// <summary>Raised when a peer gets a connection (also when a new one replaces the old one).</summary>
    public event Action<Connection>? PeerConnected;

    /// <summary>Raised when a peer's last connection closes.</summary>
    public event Action<Connection>? PeerDisconnected;

    /// <summary>Raised when identify has told us what a peer is (protocols, addresses, agent).</summary>
    public event Action<Connection, IdentifyInfo>? PeerIdentified;

    /// <summary>The addresses we listen on, with the ports actually bound (no <c>/p2p/</c> suffix).</summary>
    public IReadOnlyList<Multiaddr> ListenAddresses
    {
        get
        {
            lock (_gate)
                return [.. _listeners.Select(l => l.Address)];
        }
    }

    /// <summary>
    /// The addresses peers can dial us on: the listen addresses, with an unspecified address
    /// (0.0.0.0 or ::) replaced by every address of this machine's interfaces of that family, then the
    /// trusted observed addresses (<see cref="ObservedAddresses"/>).
    /// </summary>
    public IReadOnlyList<Multiaddr> AdvertisedAddresses
    {
        get
        {
            List<Multiaddr> result = [];
            foreach (Multiaddr address in ListenAddresses)
            {
                if (!address.TryGetTcpEndPoint(out System.Net.IPEndPoint? endPoint) || endPoint is null)
                    continue;
                if (!endPoint.Address.Equals(System.Net.IPAddress.Any) && !endPoint.Address.Equals(System.Net.IPAddress.IPv6Any))
                {
                    result.Add(address);
                    continue;
                }
                foreach (System.Net.IPAddress local in LocalAddresses(endPoint.AddressFamily))
                    result.Add(Multiaddr.FromTcpEndPoint(new System.Net.IPEndPoint(local, endPoint.Port)));
            }
            foreach (Multiaddr observed in _observed.Trusted)
                if (!result.Contains(observed))
                    result.Add(observed);
            lock (_gate)
            {
                foreach (Multiaddr extra in _extraAddresses.Values.SelectMany(a => a))
                    if (!result.Contains(extra))
                        result.Add(extra);
            }
            return result;
        }
    }

    /// <summary>
    /// Sets the addresses <paramref name="source"/> adds to <see cref="AdvertisedAddresses"/> (e.g. the
    /// relay client's <c>/p2p-circuit</c> addresses, <see cref="Relay.RelayClient.AddressSource"/>); an
    /// empty list removes them. A change raises <see cref="AddressesChanged"/> and an identify push.
    /// </summary>
    public void SetExtraAddresses(string source, IReadOnlyList<Multiaddr> addresses)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(addresses);
        lock (_gate)
        {
            if (addresses.Count == 0)
                _extraAddresses.Remove(source);
            else
                _extraAddresses[source] = [.. addresses];
        }
        OnAddressesChanged();
    }

    /// <summary>
    /// Dials relayed (<c>/p2p-circuit</c>) addresses for <see cref="DialAsync(Multiaddr, DialOptions, CancellationToken)"/>;
    /// set by the relay client (<see cref="Relay.RelayClient"/>). Null: such a dial fails with a reason.
    /// </summary>
    internal Func<Multiaddr, CancellationToken, Task<Connection>>? CircuitDialer { get; set; }

    private static IEnumerable<System.Net.IPAddress> LocalAddresses(AddressFamily family) =>
        System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .Where(a => a.AddressFamily == family && !a.IsIPv6LinkLocal)
            .Distinct();

    /// <summary>The protocols we serve, as identify announces them.</summary>
    public IReadOnlyList<string> Protocols
    {
        get
        {
            lock (_gate)
                return [.. _handlers.Keys.Order(StringComparer.Ordinal)];
        }
    }

    public IReadOnlyList<Connection> Connections
    {
        get
        {
            lock (_gate)
                return [.. _connections.Values];
        }
    }

    public Connection? GetConnection(PeerId peer)
    {
        lock (_gate)
            return _connections.TryGetValue(peer, out Connection? c) && !c.IsClosed ? c : null;
    }

    /// <summary>
    /// Registers (or replaces) the handler for inbound streams of <paramref name="protocol"/>, with
    /// the number of such streams one peer may have open at once (null:
    /// <see cref="ResourceLimits.DefaultInboundStreamsPerProtocol"/>); a stream past it is reset and counted.
    /// With <paramref name="allowOnLimited"/> the protocol may also use limited (relayed) connections,
    /// in both directions; identify, ping and DCUtR always may.
    /// </summary>
    public void SetStreamHandler(string protocol, StreamHandler handler, int? maxInboundStreamsPerPeer = null, bool allowOnLimited = false)
    {
        if (string.IsNullOrEmpty(protocol) || protocol[0] != '/')
            throw new ArgumentException("a protocol id starts with '/'", nameof(protocol));
        if (maxInboundStreamsPerPeer is { } limit)
            ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1, nameof(maxInboundStreamsPerPeer));
        bool changed;
        lock (_gate)
        {
            changed = !_handlers.ContainsKey(protocol);
            _handlers[protocol] = handler;
            if (allowOnLimited)
                _allowedOnLimited.Add(protocol);
            if (maxInboundStreamsPerPeer is { } max)
                _streamLimits[protocol] = max;
            else
                _streamLimits.Remove(protocol);
        }
        if (changed && _started)
            Identify.RequestPush(_stopping.Token);
    }

    /// <summary>
    /// Lets <paramref name="protocol"/> open streams on limited (relayed) connections, e.g. one we only
    /// dial and do not serve. Served protocols opt in with <see cref="SetStreamHandler"/>'s <c>allowOnLimited</c>.
    /// </summary>
    public void AllowOnLimitedConnections(string protocol)
    {
        lock (_gate)
            _allowedOnLimited.Add(protocol);
    }

    /// <summary>Whether streams of <paramref name="protocol"/> may be opened on a limited (relayed) connection.</summary>
    public bool IsAllowedOnLimited(string protocol)
    {
        lock (_gate)
            return _allowedOnLimited.Contains(protocol);
    }

    public void RemoveStreamHandler(string protocol)
    {
        bool removed;
        lock (_gate)
        {
            removed = _handlers.Remove(protocol);
            _streamLimits.Remove(protocol);
        }
        if (removed && _started)
            Identify.RequestPush(_stopping.Token);
    }

    internal bool IsSupported(string protocol)
    {
        lock (_gate)
            return _handlers.ContainsKey(protocol);
    }

    internal StreamHandler? GetHandler(string protocol)
    {
        lock (_gate)
            return _handlers.GetValueOrDefault(protocol);
    }

    /// <summary>Inbound streams of <paramref name="protocol"/> one peer may have open at once.</summary>
    internal int InboundStreamLimit(string protocol)
    {
        lock (_gate)
            return _streamLimits.TryGetValue(protocol, out int limit) ? limit : Options.Limits.DefaultInboundStreamsPerProtocol;
    }

    /// <summary>Binds every listen address and starts accepting connections.</summary>
    /// <exception cref="ListenFailedException">An address could not be bound (the message says why, e.g. port in use).</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_started)
            throw new InvalidOperationException("the host is already started");
        List<(Socket, Multiaddr)> bound = [];
        try
        {
            foreach (Multiaddr address in Options.ListenAddresses)
            {
                Socket socket = TcpTransport.Listen(address, Options.MaxPendingInboundConnections);
                bound.Add((socket, Multiaddr.FromTcpEndPoint(TcpConnection.Normalize((System.Net.IPEndPoint)socket.LocalEndPoint!))));
            }
        }
        catch
        {
            foreach ((Socket socket, _) in bound)
                socket.Dispose();
            throw;
        }
        lock (_gate)
        {
            _listeners.AddRange(bound);
            _started = true;
        }
        foreach ((Socket socket, Multiaddr address) in bound)
        {
            Log.Listening(_logger, address);
            InboundListener listener = new(socket, address, this, Resources, _logger);
            TrackBackground(listener.RunAsync(AcceptConnectionAsync, _stopping.Token));
        }
        TrackBackground(_trimmer.RunAsync(_stopping.Token));
        AutoNat?.Start(_stopping.Token);
        Dcutr?.Start(_stopping.Token);
        IReadOnlyList<Multiaddr> advertised = AdvertisedAddresses;
        lock (_gate)
            _lastAdvertised ??= advertised;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Connects to <paramref name="address"/>, or returns the existing connection when the address
    /// names (<c>/p2p/&lt;id&gt;</c>) a peer we are connected to. With a <c>/p2p/</c> id the
    /// remote must prove that identity in the Noise handshake; without one, whoever answers is accepted.
    /// Dialing is idempotent: when the peer that answers an address without <c>/p2p/</c> turns out to
    /// be connected already, the handshake is abandoned before it completes (so neither end ever sees
    /// a second connection) and the existing connection is returned.
    /// </summary>
    /// <exception cref="DialFailedException">
    /// The reason is in the message (refused, unreachable, peer id mismatch, timeout, our own address or id...).
    /// </exception>
    public Task<Connection> DialAsync(Multiaddr address, CancellationToken cancellationToken) =>
        DialAsync(address, DialOptions.Default, cancellationToken);

    /// <summary>
    /// <see cref="DialAsync(Multiaddr, CancellationToken)"/> with <paramref name="options"/>, e.g. without
    /// port reuse (<see cref="DialOptions.ReusePort"/>) for an AutoNAT dial-back.
    /// </summary>
    public async Task<Connection> DialAsync(Multiaddr address, DialOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ObjectDisposedException.ThrowIf(_disposed, this);
        PeerId? expected = address.PeerId;
        if (expected == PeerId)
            throw new DialFailedException(address, "that is our own peer id");
        if (IsOwnAddress(address))
            throw new DialFailedException(address, "that is our own address");
        Task<Connection> dial;
        // One dial per address: a second dial of the same address waits for the first, but a dial of
        // the same peer at another address does not inherit the fate of one that may never answer.
        string key = options.ReusePort ? address.ToString() : address + " (no port reuse)";
        if (options.NewCircuit)
            key += " (new circuit)";
        lock (_gate)
        {
            // A limited (relayed) connection does not answer a dial of a direct address: that dial may upgrade it.
            if (expected is not null && _connections.TryGetValue(expected, out Connection? existing) && !existing.IsClosed
                && (!existing.IsLimited || (!options.NewCircuit && address.ToString().Contains("/p2p-circuit", StringComparison.Ordinal))))
                return existing;
            if (!_dials.TryGetValue(key, out dial!))
            {
                dial = DialNewAsync(address, expected, key, options);
                _dials[key] = dial;
            }
        }
        return await dial.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<Connection> DialNewAsync(Multiaddr address, PeerId? expected, string key, DialOptions options)
    {
        await Task.Yield();                  // leave the caller's lock before doing any work
        try
        {
            using CancellationTokenSource deadline = new(Options.DialTimeout, Time);
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, deadline.Token);
            if (Relay.RelayAddressing.IsCircuit(address))
                return await DialCircuitAsync(address, timeout.Token).ConfigureAwait(false);
            ConnectionSlot slot = Resources.TryOpenOutbound()
                ?? throw new DialFailedException(address, $"all {Resources.Descriptors.Limit} descriptors for connections and files are in use");
            bool reuse = options.ReusePort;
            TcpConnection tcp;
            NoiseSecureChannel channel;
            YamuxSession session;
            while (true)
            {
                try
                {
                    tcp = await TcpTransport.DialAsync(address.WithoutPeerId(), timeout.Token,
                        reuse ? ReusableLocalEndPoint : null).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
                {
                    slot.Dispose();
                    throw new DialFailedException(address, $"no TCP connection within {Options.DialTimeout.TotalSeconds} s");
                }
                catch (DialFailedException e)
                {
                    slot.Dispose();
                    throw new DialFailedException(address, e.Reason, e.InnerException);
                }
                catch
                {
                    slot.Dispose();
                    throw;
                }
                try
                {
                    (channel, session) = await ConnectionUpgrader.UpgradeAsync(tcp, ConnectionRole.Initiator, _identity, expected,
                        Options.Yamux, Time, _loggers, timeout.Token, remote => CheckDialedPeer(remote, expected), MemoryBudget).ConfigureAwait(false);
                    break;
                }
                catch (Exception e) when (reuse && IsSimultaneousOpenSuspect(e, tcp))
                {
                    // Dialed from our listening port: when the peer dialed ours from its listening port
                    // at the same instant, TCP may have made ONE connection of the two, on which both ends
                    // act as the initiator and the upgrade fails on both sides. Once more from an
                    // ephemeral port, which cannot collide with the peer's dial.
                    Log.RetryingWithoutPortReuse(_logger, address, e.Message);
                    await tcp.DisposeAsync().ConfigureAwait(false);
                    reuse = false;
                }
                catch (Exception e)
                {
                    await tcp.DisposeAsync().ConfigureAwait(false);
                    slot.Dispose();
                    if (e is SelfDialException)
                        throw new DialFailedException(address, "that address is our own");
                    if (e is AlreadyConnectedException already)
                    {
                        return GetConnection(already.Peer)
                            ?? throw new DialFailedException(address, $"the connection to {already.Peer} closed while dialing it again; try again");
                    }
                    // Both peers dialed at once and the other side closed this attempt as the duplicate:
                    // the connection it kept is ours too.
                    if (expected is not null && e is not PeerIdMismatchException && GetConnection(expected) is { } kept)
                        return kept;
                    throw e switch
                    {
                        PeerIdMismatchException m => new DialFailedException(address, $"peer id mismatch: expected {m.Expected}, got {m.Actual}", m),
                        OperationCanceledException when !_stopping.IsCancellationRequested =>
                            new DialFailedException(address, $"handshake not finished within {Options.DialTimeout.TotalSeconds} s", e),
                        ProtocolViolationException p => new DialFailedException(address, p.Message, p),
                        IOException io => new DialFailedException(address, "connection lost during the handshake: " + io.Message, io),
                        _ => e,
                    };
                }
            }
            slot.MarkOpen();
            Connection connection = new(tcp, channel, session, ConnectionDirection.Outbound, this, _connectionLogger)
            {
                Slot = slot,
            };
            return Register(connection);
        }
        catch (DialFailedException e)
        {
            Log.DialFailed(_logger, address, e.Reason);
            throw;
        }
        finally
        {
            lock (_gate)
                _dials.Remove(key);
        }
    }

    private async Task<Connection> DialCircuitAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        Func<Multiaddr, CancellationToken, Task<Connection>> dialer = CircuitDialer
            ?? throw new DialFailedException(address, "relayed addresses need the relay client (the public network is off)");
        try
        {
            return await dialer(address, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
        {
            throw new DialFailedException(address, $"no relayed connection within {Options.DialTimeout.TotalSeconds} s");
        }
    }

    /// <summary>
    /// Whether an upgrade that failed with <paramref name="error"/> on <paramref name="tcp"/> may have
    /// met a TCP simultaneous open: the socket is bound to one of our listening ports, and the Noise
    /// handshake broke the way two initiators break it (each reads the other's first message where the
    /// responder's answer belongs). A peer that closes on us (a refusal, a limit) or answers as
    /// somebody else is not retried.
    /// </summary>
    private bool IsSimultaneousOpenSuspect(Exception error, TcpConnection tcp)
    {
        if (error is not NoiseHandshakeException || _stopping.IsCancellationRequested)
            return false;
        if (!tcp.LocalAddress.TryGetTcpEndPoint(out System.Net.IPEndPoint? local) || local is null)
            return false;
        foreach (Multiaddr listen in ListenAddresses)
            if (listen.TryGetTcpEndPoint(out System.Net.IPEndPoint? own) && own is not null && own.Port == local.Port)
                return true;
        return false;
    }

    /// <summary>
    /// The local endpoint a dial to <paramref name="target"/> binds to for port reuse: a listen address
    /// of the same family (its IP when specific, else any), or null (an ephemeral port) when there is
    /// none or a loopback listener could not reach the target.
    /// </summary>
    internal System.Net.IPEndPoint? ReusableLocalEndPoint(System.Net.IPEndPoint target)
    {
        bool targetLoopback = System.Net.IPAddress.IsLoopback(target.Address);
        foreach (Multiaddr listen in ListenAddresses)
        {
            if (!listen.TryGetTcpEndPoint(out System.Net.IPEndPoint? own) || own is null || own.AddressFamily != target.AddressFamily)
                continue;
            if (own.Address.Equals(System.Net.IPAddress.Any) || own.Address.Equals(System.Net.IPAddress.IPv6Any))
                return own;
            if (System.Net.IPAddress.IsLoopback(own.Address) == targetLoopback)
                return own;
        }
        return null;
    }

    /// <summary>
    /// Upgrades a raw connection that did not come from our listener or <see cref="DialAsync(Multiaddr, CancellationToken)"/>
    /// (a relayed circuit, a TCP simultaneous open) in <paramref name="role"/> and adds it as a
    /// connection of <paramref name="direction"/>, limited when <paramref name="limit"/> is given.
    /// The connection takes ownership of <paramref name="raw"/>; on failure it is disposed.
    /// </summary>
    /// <exception cref="DialFailedException">The upgrade failed (the reason says why).</exception>
    internal async Task<Connection> AddConnectionAsync(IRawConnection raw, ConnectionRole role, ConnectionDirection direction,
        PeerId? expected, ConnectionLimit? limit, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (limit is not null)
            raw = new CountingRawConnection(raw);   // what remains of the data limit is known
        Multiaddr remoteAddress = raw.RemoteAddress;
        ConnectionSlot? slot;
        LimitKind refusal = LimitKind.Descriptors;
        if (direction == ConnectionDirection.Inbound)
        {
            // A circuit's address names its relay, not the peer: under the per-address caps every
            // circuit from every relay would share one bucket (8 at once, 4 in their handshake).
            // Circuits count in the inbound total only; the stop handler bounds them per relay.
            System.Net.IPAddress? ip = Relay.RelayAddressing.IsCircuit(remoteAddress) ? null
                : remoteAddress.TryGetTcpEndPoint(out System.Net.IPEndPoint? endPoint) && endPoint is not null
                ? endPoint.Address : System.Net.IPAddress.None;
            slot = Resources.TryOpenInbound(ip, out refusal);
        }
        else
            slot = Resources.TryOpenOutbound();
        if (slot is null)
        {
            await raw.DisposeAsync().ConfigureAwait(false);
            throw new DialFailedException(remoteAddress, $"refused by the resource manager ({refusal})");
        }
        try
        {
            using CancellationTokenSource deadline = new(Options.HandshakeTimeout, Time);
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, cancellationToken, deadline.Token);
            (NoiseSecureChannel channel, YamuxSession session) = await ConnectionUpgrader.UpgradeAsync(raw, role, _identity, expected,
                Options.Yamux, Time, _loggers, timeout.Token,
                remote => { if (remote == PeerId) throw new SelfDialException(); }, MemoryBudget).ConfigureAwait(false);
            slot.MarkOpen();
            Connection connection = new(raw, channel, session, direction, this, _connectionLogger, role, limit)
            {
                Slot = slot,
            };
            return Register(connection);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            slot.Dispose();
            await raw.DisposeAsync().ConfigureAwait(false);
            if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
                throw;
            string reason = e switch
            {
                PeerIdMismatchException m => $"peer id mismatch: expected {m.Expected}, got {m.Actual}",
                SelfDialException => "that is our own peer id",
                OperationCanceledException => $"handshake not finished within {Options.HandshakeTimeout.TotalSeconds} s",
                _ => e.Message,
            };
            throw new DialFailedException(remoteAddress, reason, e);
        }
    }

    /// <summary>
    /// Seen by a dial once the remote proved its id, before our last handshake message: refuses
    /// ourselves, and a peer that is connected already when the address did not name it.
    /// </summary>
    private void CheckDialedPeer(PeerId remote, PeerId? expected)
    {
        if (remote == PeerId)
            throw new SelfDialException();
        if (expected is null && GetConnection(remote) is not null)
            throw new AlreadyConnectedException(remote);
    }

    /// <summary>
    /// Whether <paramref name="address"/> is one we listen on: the same endpoint, or the same port on
    /// a loopback or local address when we listen on an unspecified one (0.0.0.0 or ::).
    /// </summary>
    public bool IsOwnAddress(Multiaddr address)
    {
        if (!address.TryGetTcpEndPoint(out System.Net.IPEndPoint? target) || target is null)
            return false;
        System.Net.IPAddress targetIp = target.Address.IsIPv4MappedToIPv6 ? target.Address.MapToIPv4() : target.Address;
        foreach (Multiaddr listen in ListenAddresses)
        {
            if (!listen.TryGetTcpEndPoint(out System.Net.IPEndPoint? own) || own is null || own.Port != target.Port)
                continue;
            if (own.Address.Equals(targetIp))
                return true;
            bool unspecified = own.Address.Equals(System.Net.IPAddress.Any) || own.Address.Equals(System.Net.IPAddress.IPv6Any);
            if (unspecified && (System.Net.IPAddress.IsLoopback(targetIp) || targetIp.Equals(System.Net.IPAddress.Any)
                || targetIp.Equals(System.Net.IPAddress.IPv6Any) || LocalAddresses(targetIp.AddressFamily).Contains(targetIp)))
                return true;
        }
        return false;
    }

    /// <summary>Opens a stream to a connected peer, negotiating the first protocol it supports.</summary>
    /// <exception cref="PeerNotConnectedException">No connection to <paramref name="peer"/>.</exception>
    public Task<P2PStream> OpenStreamAsync(PeerId peer, IReadOnlyList<string> protocols, CancellationToken cancellationToken)
    {
        Connection connection = GetConnection(peer) ?? throw new PeerNotConnectedException(peer);
        return connection.OpenStreamAsync(protocols, cancellationToken);
    }

    public Task<P2PStream> OpenStreamAsync(PeerId peer, string protocol, CancellationToken cancellationToken) =>
        OpenStreamAsync(peer, [protocol], cancellationToken);

    /// <summary>
    /// Measures the round trip to a connected peer with /ipfs/ping/1.0.0; on a connection with a small
    /// data limit (<see cref="Connection.HasSmallDataLimit"/>) with a yamux ping, which costs a tenth
    /// of a ping stream.
    /// </summary>
    public async Task<TimeSpan> PingAsync(PeerId peer, CancellationToken cancellationToken)
    {
        if (GetConnection(peer) is { HasSmallDataLimit: true } small)
            return await small.MuxerPingAsync(cancellationToken).ConfigureAwait(false);
        P2PStream stream = await OpenStreamAsync(peer, PingProtocol.ProtocolId, cancellationToken).ConfigureAwait(false);
        try
        {
            TimeSpan rtt = await Ping.PingAsync(stream, cancellationToken).ConfigureAwait(false);
            await stream.CompleteOutputAsync().ConfigureAwait(false);
            return rtt;
        }
        catch
        {
            stream.Reset();
            throw;
        }
    }

    /// <summary>Accepts the next socket of a listener; tests replace it to make accepting fail as with EMFILE.</summary>
    internal Func<Socket, CancellationToken, ValueTask<Socket>> AcceptSocket { get; set; } = static (listener, ct) => listener.AcceptAsync(ct);

    private async Task AcceptConnectionAsync(TcpConnection tcp, ConnectionSlot slot)
    {
        try
        {
            using CancellationTokenSource deadline = new(Options.HandshakeTimeout, Time);
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, deadline.Token);
            // A socket from an address we are hole punching with takes the role DCUtR gave us on it.
            (ConnectionRole role, PeerId? expected) = Dcutr?.ExpectedInbound(tcp.RemoteAddress) is { } punch
                ? (punch.Role, punch.Peer) : (ConnectionRole.Responder, null);
            (NoiseSecureChannel channel, YamuxSession session) = await ConnectionUpgrader.UpgradeAsync(tcp, role,
                _identity, expected, Options.Yamux, Time, _loggers, timeout.Token, memory: MemoryBudget).ConfigureAwait(false);
            slot.MarkOpen();
            Connection connection = new(tcp, channel, session, ConnectionDirection.Inbound, this, _connectionLogger, role)
            {
                Slot = slot,
            };
            Register(connection);
        }
        catch (Exception e)
        {
            slot.Dispose();
            bool timedOut = e is OperationCanceledException && !_stopping.IsCancellationRequested;
            if (timedOut)
                Resources.CountRefusal(LimitKind.HandshakeTimeout);
            string reason = e is OperationCanceledException ? "handshake timed out" : e.Message;
            Log.InboundHandshakeFailed(_logger, tcp.RemoteAddress, reason);
            await tcp.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Closes the least useful connections when there are more than the high watermark (see <see cref="ConnectionTrimmer"/>).</summary>
    internal void TrimConnections() => _trimmer.Trim();

    private Connection Register(Connection connection)
    {
        PeerId peer = connection.RemotePeer;
        Connection? loser = null;
        Connection winner = connection;
        lock (_gate)
        {
            if (_disposed)
                loser = connection;
            else if (_connections.TryGetValue(peer, out Connection? existing) && !existing.IsClosed)
            {
                // A direct connection beats a limited (relayed) one; between equals, both ends keep the same.
                // Of two in one direction a new inbound direct one wins (the peer may have lost the old).
                // Of two relayed ones in one direction the first stays while it has more than half of its
                // time left: js opens a second circuit when it wants an unlimited connection, aborts it as
                // a duplicate of the circuit address and uses the first. A newer circuit replaces one near
                // its relay's duration limit (its dialer renews it before the relay cuts it), and a dead
                // circuit does not linger (its relay resets its streams).
                bool keepNew = existing.IsLimited != connection.IsLimited ? existing.IsLimited
                    : existing.Direction != connection.Direction
                    ? DialerOf(connection).Bytes.SequenceCompareTo(DialerOf(existing).Bytes) < 0
                    : connection.IsLimited ? NearsItsDurationLimit(existing)
                    : connection.Direction == ConnectionDirection.Inbound;
                (winner, loser) = keepNew ? (connection, existing) : (existing, connection);
                _connections[peer] = winner;
            }
            else
                _connections[peer] = connection;
        }
        if (loser is not null && !_disposed)
            Log.DuplicateConnection(_logger, peer, winner.Direction, loser.Direction);
        // Always start the new connection, even a losing one: its end runs through OnConnectionEnded,
        // which keeps the inbound count right.
        connection.Start();
        if (winner == connection && loser != connection)
        {
            Log.PeerConnected(_logger, peer, connection.Direction, connection.RemoteAddress);
            Raise(() => PeerConnected?.Invoke(connection));
            TrackBackground(Identify.IdentifyPeerAsync(connection, _stopping.Token));
        }
        // A relayed loser closes after a grace period: its streams may finish, and a js dialer that opened a
        // second circuit only to find the first (see above) is not failed in its handshake.
        if (loser is not null)
            TrackBackground(loser.IsLimited && loser != winner ? CloseReplacedAsync(loser) : loser.CloseAsync());
        TrimConnections();
        return winner;
    }

    /// <summary>Whether a relayed connection has at most half of its relay's duration limit left.</summary>
    private static bool NearsItsDurationLimit(Connection connection) =>
        connection.Limit?.Duration is { } duration && connection.TimeRemaining is { } left && left <= duration / 2;

    /// <summary>
    /// Closes a relayed connection another one replaced once <see cref="Dcutr.DcutrOptions.RelayedGracePeriod"/>
    /// has passed: new streams use the other connection, those still on the relayed one may finish.
    /// </summary>
    private async Task CloseReplacedAsync(Connection relayed)
    {
        await Task.Delay(Options.Dcutr.RelayedGracePeriod, Time, _stopping.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await relayed.CloseAsync().ConfigureAwait(false);
    }

    private PeerId DialerOf(Connection connection) =>
        connection.Direction == ConnectionDirection.Outbound ? PeerId : connection.RemotePeer;

    internal void OnConnectionEnded(Connection connection)
    {
        bool wasActive;
        lock (_gate)
        {
            wasActive = _connections.TryGetValue(connection.RemotePeer, out Connection? current) && current == connection;
            if (wasActive)
                _connections.Remove(connection.RemotePeer);
        }
        connection.Slot?.Dispose();
        TrackBackground(connection.CloseAsync());
        if (_observed.Remove(connection))
            OnAddressesChanged();
        if (wasActive)
        {
            PeerStore.OnDisconnected(connection.RemotePeer);
            Log.PeerDisconnected(_logger, connection.RemotePeer);
            Raise(() => PeerDisconnected?.Invoke(connection));
        }
    }

    internal void OnIdentified(Connection connection, IdentifyInfo info) => Raise(() => PeerIdentified?.Invoke(connection, info));

    /// <summary>
    /// Identify told us where the peer of <paramref name="connection"/> sees us; fed to the observed
    /// address manager (not for limited connections: a relay's view of us is the relay's).
    /// </summary>
    internal void OnObservedAddress(Connection connection, Multiaddr observed)
    {
        if (connection.IsLimited || !connection.RemoteAddress.TryGetTcpEndPoint(out System.Net.IPEndPoint? observer) || observer is null)
            return;
        bool changed = _observed.Record(connection, connection.LocalAddress, observed, observer.Address, ListenAddresses);
        // Ended while identify ran: its end already removed what it had; remove what was just added.
        if (connection.IsClosed)
            changed |= _observed.Remove(connection);
        if (changed)
            OnAddressesChanged();
    }

    private void OnAddressesChanged()
    {
        IReadOnlyList<Multiaddr> addresses = AdvertisedAddresses;
        lock (_gate)
        {
            // A trusted observed address equal to a listen address changes nothing peers see.
            if (_lastAdvertised is not null && _lastAdvertised.SequenceEqual(addresses))
                return;
            _lastAdvertised = addresses;
        }
        Log.AddressesChanged(_logger, string.Join(", ", addresses));
        Raise(() => AddressesChanged?.Invoke(addresses));
        if (_started && !_disposed)
            Identify.RequestPush(_stopping.Token);
    }

    private void Raise(Action raise)
    {
        try
        {
            raise();
        }
        catch (Exception e)
        {
            Log.EventHandlerFailed(_logger, e);
        }
    }

    /// <summary>Keeps a task the host or its parts start (an upgrade, a close) until it ends, so disposing waits for it.</summary>
    internal void TrackBackground(Task task) => _background.Track(task);

    /// <summary>Stops listening, closes every connection gracefully and waits for background work.</summary>
    public async ValueTask DisposeAsync()
    {
        Connection[] connections;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            connections = [.. _connections.Values];
            foreach ((Socket socket, _) in _listeners)
                socket.Dispose();
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(connections.Select(c => c.CloseAsync())).ConfigureAwait(false);
        await _background.DrainAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
