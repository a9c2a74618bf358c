using System.Threading.Channels;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Relay.Pb;
using Echo.Net.Threading;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Relay;

/// <summary>
/// The client side of circuit relay v2 (relay/circuit-v2.md): reservations on relays (RESERVE on
/// <see cref="RelayCodec.HopProtocol"/>) that make us reachable at <c>…/p2p/&lt;relay&gt;/p2p-circuit</c>,
/// the stop handler that turns a circuit a relay brings us into a limited inbound connection, and
/// dialing <c>…/p2p-circuit/p2p/&lt;peer&gt;</c> through <see cref="Libp2pHost.DialAsync(Multiaddr, CancellationToken)"/>.
/// Started, it keeps <see cref="RelayClientOptions.DesiredReservations"/> reservations while AutoNAT
/// says we are private or has no verdict for a node without a public address (see <see cref="IsActive"/>;
/// or always, with <see cref="RelayClientOptions.ReserveAlways"/>): candidates
/// are the connected peers whose identify lists the hop protocol (the bootstrap peers first), then
/// the <see cref="IRelayCandidateSource"/>s; a reservation is refreshed before it expires and again
/// right after the connection to its relay was replaced; a lost relay is replaced at once.
/// </summary>
/// <remarks>
/// A reservation needs a direct connection to the relay: none is ever made over a relayed one,
/// and a reservation ends with its connection (the relay forgets it then). The relay's connection is
/// protected from trimming (<see cref="ResourceManager.ConnectionManager.Protect"/>, tag <see cref="ProtectionTag"/>)
/// while we hold a reservation there. The circuit addresses go into <see cref="Libp2pHost.AdvertisedAddresses"/>,
/// so identify push announces them.
/// </remarks>
public sealed partial class RelayClient : IAsyncDisposable
{
    /// <summary>The connection-manager tag on the connection to each relay we hold a reservation on.</summary>
    public const string ProtectionTag = "relay-reservation";

    /// <summary>The <see cref="Libp2pHost.SetExtraAddresses"/> source name of the circuit addresses.</summary>
    public const string AddressSource = "relay";

    private readonly Libp2pHost _host;
    private readonly RelayClientOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, RelayReservation> _reservations = [];
    private readonly Dictionary<PeerId, DateTimeOffset> _backoff = [];
    private readonly HashSet<PeerId> _refreshNow = [];
    private readonly List<IRelayCandidateSource> _sources = [];
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly BackgroundTasks _background = new();
    private readonly CancellationTokenSource _stopping = new();
    private IReadOnlyList<Multiaddr> _published = [];
    private bool _started;
    private DateTimeOffset? _startedAt;
    private bool _disposed;

    public RelayClient(Libp2pHost host, RelayClientOptions options, ILoggerFactory loggers, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _host = host;
        _options = options;
        _logger = loggers.CreateLogger<RelayClient>();
        _time = time ?? host.Time;
        host.SetStreamHandler(RelayCodec.StopProtocol, HandleStopAsync, options.MaxCircuitsPerRelay);
        host.CircuitDialer = DialCircuitAsync;
    }

    /// <summary>The reservations held now, oldest first.</summary>
    public IReadOnlyList<RelayReservation> Reservations
    {
        get
        {
            lock (_gate)
                return [.. _reservations.Values.OrderBy(r => r.ObtainedAt)];
        }
    }

    /// <summary>Raised with <see cref="Reservations"/> whenever one is granted, refreshed or lost.</summary>
    public event Action<IReadOnlyList<RelayReservation>>? ReservationsChanged;

    /// <summary>
    /// Whether reservations are wanted now: always with <see cref="RelayClientOptions.ReserveAlways"/>;
    /// never once AutoNAT says public; while it says private; and while it has no verdict (or does not
    /// run) when we advertise no public address (nobody could dial us but through a relay), when we
    /// already hold reservations, or once <see cref="RelayClientOptions.UnknownReachabilityGrace"/>
    /// has passed since start with a public address nobody confirmed.
    /// </summary>
    public bool IsActive
    {
        get
        {
            if (_options.ReserveAlways)
                return true;
            switch (_host.AutoNat?.Reachability.Status)
            {
                case AutoNat.ReachabilityStatus.Private:
                    return true;
                case AutoNat.ReachabilityStatus.Public:
                    return false;
            }
            if (Count > 0 || !_host.AdvertisedAddresses.Any(a => _host.AddressClassifier.Classify(a) == Addressing.AddressClass.Public))
                return true;
            lock (_gate)
                return _startedAt is { } at && _time.GetUtcNow() - at >= _options.UnknownReachabilityGrace;
        }
    }

    /// <summary>Adds a source of candidates beyond the connected peers (e.g. the DHT's closest peers to our id).</summary>
    public void AddCandidateSource(IRelayCandidateSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        lock (_gate)
            _sources.Add(source);
        Wake();
    }

    /// <summary>Starts keeping reservations (see the class remarks).</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_gate)
        {
            if (_started)
                return;
            _started = true;
            _startedAt = _time.GetUtcNow();
        }
        _host.PeerIdentified += OnPeerIdentified;
        _host.PeerConnected += OnPeerConnected;
        _host.PeerDisconnected += OnPeerDisconnected;
        if (_host.AutoNat is { } autoNat)
            autoNat.ReachabilityChanged += OnReachabilityChanged;
        _background.Track(RunAsync(_stopping.Token));
    }

    private void Wake() => _wake.Writer.TryWrite(true);

    private void OnReachabilityChanged(AutoNat.ReachabilityReport report) => Wake();

    private void OnPeerIdentified(Connection connection, Identify.IdentifyInfo info)
    {
        if (!connection.IsLimited && info.Supports(RelayCodec.HopProtocol))
            Wake();
    }

    private void OnPeerConnected(Connection connection)
    {
        lock (_gate)
        {
            // A new connection to a relay we hold a reservation on: the relay tied it to the old one.
            if (!_reservations.ContainsKey(connection.RemotePeer))
                return;
            _refreshNow.Add(connection.RemotePeer);
        }
        Wake();
    }

    private void OnPeerDisconnected(Connection connection)
    {
        bool ours;
        lock (_gate)
            ours = _reservations.ContainsKey(connection.RemotePeer);
        if (ours)
            Wake();
    }

    /// <summary>
    /// Asks the relay at the other end of <paramref name="relay"/> for a reservation (or its refresh).
    /// Not recorded: the manager records what it asked for; tests and tools may call it directly.
    /// </summary>
    /// <exception cref="RelayRefusedException">The relay answered with a status other than OK.</exception>
    /// <exception cref="ProtocolViolationException">The answer broke the protocol.</exception>
    /// <exception cref="InvalidOperationException">The connection is relayed itself.</exception>
    public async Task<RelayReservation> ReserveAsync(Connection relay, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(relay);
        if (relay.IsLimited || relay.IsRelayed())
            throw new InvalidOperationException("no reservation over a relayed connection");
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        P2PStream stream = await relay.OpenStreamAsync(RelayCodec.HopProtocol, timeout.Token).ConfigureAwait(false);
        try
        {
            await RelayCodec.WriteAsync(stream.Output, new HopMessage { Type = HopMessage.Types.Type.Reserve }, timeout.Token).ConfigureAwait(false);
            HopMessage answer = await RelayCodec.ReadHopAsync(stream.Input, timeout.Token).ConfigureAwait(false)
                ?? throw new UnexpectedEndException(RelayCodec.HopProtocol);
            await stream.CompleteOutputAsync().ConfigureAwait(false);
            return ParseReservation(relay, answer);
        }
        catch
        {
            stream.Reset();
            throw;
        }
    }

    private RelayReservation ParseReservation(Connection relay, HopMessage answer)
    {
        PeerId relayId = relay.RemotePeer;
        if (!answer.HasType || answer.Type != HopMessage.Types.Type.Status)
            throw new ProtocolViolationException(RelayCodec.HopProtocol, "the answer to RESERVE is not a STATUS");
        if (answer.Status != Status.Ok)
            throw new RelayRefusedException(relayId, "RESERVE", answer.Status);
        if (answer.Reservation is not { HasExpire: true } reservation)
            throw new ProtocolViolationException(RelayCodec.HopProtocol, "status OK without a reservation");
        DateTimeOffset now = _time.GetUtcNow();
        long expireSeconds = (long)Math.Min(reservation.Expire, (ulong)DateTimeOffset.MaxValue.ToUnixTimeSeconds());
        DateTimeOffset expires = DateTimeOffset.FromUnixTimeSeconds(expireSeconds);
        if (expires <= now)
            throw new ProtocolViolationException(RelayCodec.HopProtocol, "the reservation expires in the past");
        List<Multiaddr> addresses = [];
        foreach (ByteString bytes in reservation.Addrs)
        {
            if (addresses.Count >= _options.MaxRelayAddresses)
                break;
            if (!Multiaddr.TryFromBytes(bytes.Span, out Multiaddr? address, out _) || address is null || RelayAddressing.IsCircuit(address))
                continue;
            if (address.PeerId is { } named && named != relayId)
                continue;
            if (!address.TryGetTcpEndPoint(out _) && !address.TryGetDnsTcp(out _, out _, out _))
                continue;   // a transport we cannot dial (quic, ws, webtransport…)
            Multiaddr full = address.WithPeerId(relayId);
            if (!addresses.Contains(full))
                addresses.Add(full);
        }
        if (addresses.Count == 0)
            addresses.Add(relay.RemoteAddress);
        RelayVoucher? voucher = null;
        if (reservation.HasVoucher && !reservation.Voucher.IsEmpty)
        {
            try
            {
                voucher = RelayVoucher.Open(reservation.Voucher.Span, relayId, _host.PeerId);
            }
            catch (Exception e) when (e is ProtocolViolationException or FormatException or ArgumentException)
            {
                Log.VoucherInvalid(_logger, relayId, e.Message);
            }
        }
        return new RelayReservation(relayId, expires, addresses, RelayCodec.ToConnectionLimit(answer.Limit), voucher, now);
    }

    /// <summary>
    /// Dials <c>&lt;relay part&gt;/p2p-circuit/p2p/&lt;peer&gt;</c> (the host's <see cref="Libp2pHost.DialAsync(Multiaddr, CancellationToken)"/>
    /// comes here for relayed addresses): reaches the relay (the connection we have, or a dial of the
    /// relay part), asks it to CONNECT, and upgrades the circuit as the initiator into a limited
    /// connection with the relay's limit.
    /// </summary>
    private async Task<Connection> DialCircuitAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        if (!RelayAddressing.TrySplit(address, out Multiaddr? relayPart, out PeerId? destination) || destination is null)
            throw new DialFailedException(address, "not a relayed address of the form <relay>/p2p/<relay id>/p2p-circuit/p2p/<peer id>");
        PeerId relayId = relayPart!.PeerId!;
        if (relayId == _host.PeerId)
            throw new DialFailedException(address, "we are that relay");
        if (relayId == destination)
            throw new DialFailedException(address, "the relay and the peer are the same");
        Connection relay;
        try
        {
            relay = _host.GetConnection(relayId) is { IsLimited: false } existing
                ? existing
                : await _host.DialAsync(relayPart, cancellationToken).ConfigureAwait(false);
        }
        catch (DialFailedException e)
        {
            throw new DialFailedException(address, "the relay could not be reached: " + e.Reason, e);
        }
        if (relay.IsLimited)
            throw new DialFailedException(address, "the relay is reachable only through another relay");
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        P2PStream stream;
        try
        {
            stream = await relay.OpenStreamAsync(RelayCodec.HopProtocol, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Multistream.ProtocolNotSupportedException or PeerNotConnectedException or IOException or TimeoutException
            or ProtocolViolationException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new DialFailedException(address, $"{relayId.ToShortString()} is not a relay: " + e.Message, e);
        }
        ConnectionLimit limit;
        try
        {
            HopMessage request = new()
            {
                Type = HopMessage.Types.Type.Connect,
                Peer = new Peer { Id = ByteString.CopyFrom(destination.ToBytes()) },
            };
            await RelayCodec.WriteAsync(stream.Output, request, timeout.Token).ConfigureAwait(false);
            HopMessage answer = await RelayCodec.ReadHopAsync(stream.Input, timeout.Token).ConfigureAwait(false)
                ?? throw new UnexpectedEndException(RelayCodec.HopProtocol);
            if (!answer.HasType || answer.Type != HopMessage.Types.Type.Status)
                throw new ProtocolViolationException(RelayCodec.HopProtocol, "the answer to CONNECT is not a STATUS");
            if (answer.Status != Status.Ok)
                throw new RelayRefusedException(relayId, "CONNECT", answer.Status);
            limit = RelayCodec.ToConnectionLimit(answer.Limit);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stream.Reset();
            if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
                throw;
            string reason = e switch
            {
                RelayRefusedException r => $"relay refused: {r.StatusName}",
                OperationCanceledException => $"the relay did not answer within {_options.RequestTimeout.TotalSeconds} s",
                _ => e.Message,
            };
            throw new DialFailedException(address, reason, e);
        }
        Multiaddr circuit = relay.RemoteAddress.Encapsulate(RelayAddressing.CircuitSuffix);
        PipeRawConnection raw = new(stream, circuit, circuit, stream.Reset);
        Connection connection = await _host.AddConnectionAsync(raw, ConnectionRole.Initiator, ConnectionDirection.Outbound,
            destination, limit, cancellationToken).ConfigureAwait(false);
        Log.CircuitDialed(_logger, destination, relayId, limit);
        return connection;
    }

    /// <summary>
    /// A relay brings us a circuit (stop CONNECT): accepted from a relay we hold a reservation on,
    /// over a direct connection, answered OK, then upgraded as the responder into a limited inbound
    /// connection with the relay's limit. The handler lives as long as the circuit: its stream is the
    /// connection's raw byte stream.
    /// </summary>
    private async Task HandleStopAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        PeerId relayId = stream.RemotePeer;
        StopMessage? request;
        try
        {
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.RequestTimeout);
            request = await RelayCodec.ReadStopAsync(stream.Input, timeout.Token).ConfigureAwait(false);
        }
        catch (ProtocolViolationException e)
        {
            await RefuseStopAsync(stream, Status.MalformedMessage, e.Message, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (request is null)
            return;
        if (!request.HasType)
        {
            await RefuseStopAsync(stream, Status.MalformedMessage, "no message type", cancellationToken).ConfigureAwait(false);
            return;
        }
        if (request.Type != StopMessage.Types.Type.Connect)
        {
            await RefuseStopAsync(stream, Status.UnexpectedMessage, $"a {request.Type} where CONNECT belongs", cancellationToken).ConfigureAwait(false);
            return;
        }
        if (request.Peer is null || !PeerId.TryFromBytes(request.Peer.Id.Span, out PeerId? source) || source is null)
        {
            await RefuseStopAsync(stream, Status.MalformedMessage, "CONNECT without a valid peer id", cancellationToken).ConfigureAwait(false);
            return;
        }
        bool reserved;
        lock (_gate)
            reserved = _reservations.ContainsKey(relayId);
        if (stream.Connection.IsLimited || !reserved)
        {
            await RefuseStopAsync(stream, Status.PermissionDenied,
                stream.Connection.IsLimited ? "over a relayed connection" : "we hold no reservation there", cancellationToken).ConfigureAwait(false);
            return;
        }
        if (source == _host.PeerId || source == relayId)
        {
            await RefuseStopAsync(stream, Status.PermissionDenied, "a circuit from ourselves or the relay itself", cancellationToken).ConfigureAwait(false);
            return;
        }
        ConnectionLimit limit = RelayCodec.ToConnectionLimit(request.Limit);
        await RelayCodec.WriteAsync(stream.Output, RelayCodec.StopStatus(Status.Ok), cancellationToken).ConfigureAwait(false);
        Multiaddr circuit = stream.Connection.RemoteAddress.Encapsulate(RelayAddressing.CircuitSuffix);
        PipeRawConnection raw = new(stream, circuit, circuit, stream.Reset);
        Connection connection;
        try
        {
            connection = await _host.AddConnectionAsync(raw, ConnectionRole.Responder, ConnectionDirection.Inbound, source, limit,
                cancellationToken).ConfigureAwait(false);
        }
        catch (DialFailedException e)
        {
            Log.CircuitUpgradeFailed(_logger, source, relayId, e.Reason);
            return;
        }
        Log.CircuitAccepted(_logger, source, relayId, limit);
        // The stream is the connection's byte stream: returning would end it.
        TaskCompletionSource ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        using (connection.Closed.Register(() => ended.TrySetResult()))
        using (cancellationToken.Register(() => ended.TrySetResult()))
            await ended.Task.ConfigureAwait(false);
        if (!connection.IsClosed)
            await connection.CloseAsync().ConfigureAwait(false);
    }

    private async Task RefuseStopAsync(P2PStream stream, Status status, string reason, CancellationToken cancellationToken)
    {
        Log.StopRefused(_logger, stream.RemotePeer, RelayCodec.Describe(status), reason);
        try
        {
            await RelayCodec.WriteAsync(stream.Output, RelayCodec.StopStatus(status), cancellationToken).ConfigureAwait(false);
            await stream.CompleteOutputAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            stream.Reset();
        }
    }

    /// <summary>Stops keeping reservations, forgets the circuit addresses and waits for the manager.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        _host.PeerIdentified -= OnPeerIdentified;
        _host.PeerConnected -= OnPeerConnected;
        _host.PeerDisconnected -= OnPeerDisconnected;
        if (_host.AutoNat is { } autoNat)
            autoNat.ReachabilityChanged -= OnReachabilityChanged;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _background.DrainAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
