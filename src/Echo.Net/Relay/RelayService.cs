using System.Net;
using Echo.Net.Addressing;
using Echo.Net.AutoNat;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Relay.Pb;
using Echo.Net.ResourceManager;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Relay;

/// <summary>What the relay service holds and has refused, for <c>/stats</c>.</summary>
/// <param name="Serving">Whether it serves now.</param>
/// <param name="Reservations">Reservations held.</param>
/// <param name="Circuits">Circuits open.</param>
/// <param name="CircuitsServed">Circuits opened since the start.</param>
/// <param name="BytesRelayed">Bytes relayed since the start, both directions.</param>
/// <param name="Refused">Hop requests refused since the start.</param>
public sealed record RelayServiceStats(bool Serving, int Reservations, int Circuits, long CircuitsServed, long BytesRelayed, long Refused);

/// <summary>
/// The relay side of circuit relay v2 (relay/circuit-v2.md): serves <see cref="RelayCodec.HopProtocol"/>
/// (RESERVE, CONNECT) and opens <see cref="RelayCodec.StopProtocol"/> to the destination, then splices
/// the two streams (<see cref="CircuitSplice"/>) within go's default limits
/// (<see cref="RelayServiceOptions"/>: 2 min and 128 KiB per direction per circuit, 1 h reservations,
/// 128 reservations, 8 per IP, 16 circuits per peer). It serves while AutoNAT says we are public, or
/// always (<see cref="RelayServiceMode.On"/>).
/// </summary>
/// <remarks>
/// Refusals carry the spec's status codes: a request over a relayed connection PERMISSION_DENIED, the
/// reservation caps RESERVATION_REFUSED, the circuit caps RESOURCE_LIMIT_EXCEEDED, a CONNECT to a peer
/// without a reservation NO_RESERVATION, a destination that cannot be reached or refuses
/// CONNECTION_FAILED, an unreadable message MALFORMED_MESSAGE, a message of the wrong type
/// UNEXPECTED_MESSAGE. A reservation lasts while the peer stays connected; its connection is protected
/// from trimming (<see cref="ProtectionTag"/>). Cap refusals count in the resource manager's
/// <see cref="LimitKind.RelayReservations"/> and <see cref="LimitKind.RelayCircuits"/>.
/// </remarks>
public sealed class RelayService : IAsyncDisposable
{
    /// <summary>The connection-manager tag on the connection of each peer holding a reservation here.</summary>
    public const string ProtectionTag = "relay-service";

    private readonly Libp2pHost _host;
    private readonly RelayServiceOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, (DateTimeOffset Expires, IPAddress Ip)> _reservations = [];
    private readonly Dictionary<PeerId, int> _circuitsPerPeer = [];
    private int _circuits;
    private long _circuitsServed;
    private long _bytesRelayed;
    private long _refused;
    private bool _serving;
    private bool _started;
    private bool _disposed;

    public RelayService(Libp2pHost host, RelayServiceOptions options, ILoggerFactory loggers, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _host = host;
        _options = options;
        _logger = loggers.CreateLogger<RelayService>();
        _time = time ?? host.Time;
    }

    /// <summary>Whether the hop protocol is served now (and announced by identify).</summary>
    public bool IsServing
    {
        get
        {
            lock (_gate)
                return _serving;
        }
    }

    /// <summary>The counters now.</summary>
    public RelayServiceStats Stats
    {
        get
        {
            lock (_gate)
            {
                return new RelayServiceStats(_serving, _reservations.Count, _circuits, Interlocked.Read(ref _circuitsServed),
                    Interlocked.Read(ref _bytesRelayed), Interlocked.Read(ref _refused));
            }
        }
    }

    /// <summary>Starts serving according to <see cref="RelayServiceOptions.Mode"/>.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_gate)
        {
            if (_started)
                return;
            _started = true;
        }
        _host.PeerDisconnected += OnPeerDisconnected;
        switch (_options.Mode)
        {
            case RelayServiceMode.On:
                SetServing(true);
                break;
            case RelayServiceMode.Auto when _host.AutoNat is { } autoNat:
                autoNat.ReachabilityChanged += OnReachabilityChanged;
                SetServing(autoNat.Reachability.IsPublic);
                break;
            default:
                break;
        }
    }

    private void OnReachabilityChanged(ReachabilityReport report) => SetServing(report.IsPublic);

    private void SetServing(bool serve)
    {
        lock (_gate)
        {
            if (_serving == serve || _disposed)
                return;
            _serving = serve;
        }
        if (serve)
            _host.SetStreamHandler(RelayCodec.HopProtocol, HandleHopAsync, _options.MaxCircuitsPerPeer + 4);
        else
        {
            _host.RemoveStreamHandler(RelayCodec.HopProtocol);
            PeerId[] reserved;
            lock (_gate)
            {
                reserved = [.. _reservations.Keys];
                _reservations.Clear();
            }
            foreach (PeerId peer in reserved)
                _host.Resources.ConnectionManager.Unprotect(peer, ProtectionTag);
        }
        Log.ServiceState(_logger, serve ? "on" : "off");
    }

    private void OnPeerDisconnected(Connection connection)
    {
        bool removed;
        lock (_gate)
            removed = _reservations.Remove(connection.RemotePeer);
        if (!removed)
            return;
        _host.Resources.ConnectionManager.Unprotect(connection.RemotePeer, ProtectionTag);
        Log.ReservationDropped(_logger, connection.RemotePeer, "disconnected");
    }

    private async Task HandleHopAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        HopMessage? request;
        try
        {
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.ConnectTimeout);
            request = await RelayCodec.ReadHopAsync(stream.Input, timeout.Token).ConfigureAwait(false);
        }
        catch (ProtocolViolationException e)
        {
            await RefuseAsync(stream, "a request", Status.MalformedMessage, e.Message, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (request is null)
            return;
        if (!request.HasType)
        {
            await RefuseAsync(stream, "a request", Status.MalformedMessage, "no message type", cancellationToken).ConfigureAwait(false);
            return;
        }
        switch (request.Type)
        {
            case HopMessage.Types.Type.Reserve:
                await HandleReserveAsync(stream, cancellationToken).ConfigureAwait(false);
                break;
            case HopMessage.Types.Type.Connect:
                await HandleConnectAsync(stream, request, cancellationToken).ConfigureAwait(false);
                break;
            default:
                await RefuseAsync(stream, "a request", Status.UnexpectedMessage, $"a {request.Type} where RESERVE or CONNECT belongs",
                    cancellationToken).ConfigureAwait(false);
                break;
        }
    }

    private async Task HandleReserveAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        PeerId peer = stream.RemotePeer;
        Connection connection = stream.Connection;
        if (connection.IsLimited || connection.IsRelayed())
        {
            await RefuseAsync(stream, "RESERVE", Status.PermissionDenied, "over a relayed connection", cancellationToken).ConfigureAwait(false);
            return;
        }
        IPAddress ip = connection.RemoteAddress.TryGetTcpEndPoint(out IPEndPoint? endPoint) && endPoint is not null
            ? endPoint.Address : IPAddress.None;
        DateTimeOffset now = _time.GetUtcNow();
        DateTimeOffset expires = DateTimeOffset.FromUnixTimeSeconds((now + _options.ReservationTtl).ToUnixTimeSeconds());
        string? refusal = null;
        lock (_gate)
        {
            if (!_serving)
                refusal = "the relay service is off";
            else if (!_reservations.ContainsKey(peer))
            {
                foreach (PeerId expired in _reservations.Where(r => r.Value.Expires <= now).Select(r => r.Key).ToList())
                    _reservations.Remove(expired);
                if (_reservations.Count >= _options.MaxReservations)
                    refusal = $"{_options.MaxReservations} reservations is the limit";
                else if (_reservations.Values.Count(r => r.Ip.Equals(ip)) >= _options.MaxReservationsPerIp)
                    refusal = $"{_options.MaxReservationsPerIp} reservations from one IP address is the limit";
            }
            if (refusal is null)
                _reservations[peer] = (expires, ip);
        }
        if (refusal is not null)
        {
            _host.Resources.CountRefusal(LimitKind.RelayReservations);
            await RefuseAsync(stream, "RESERVE", Status.ReservationRefused, refusal, cancellationToken).ConfigureAwait(false);
            return;
        }
        _host.Resources.ConnectionManager.Protect(peer, ProtectionTag);
        Reservation reservation = new()
        {
            Expire = (ulong)expires.ToUnixTimeSeconds(),
            Voucher = ByteString.CopyFrom(RelayVoucher.Seal(_host.IdentityKey, peer, expires)),
        };
        foreach (Multiaddr address in ReservationAddresses())
            reservation.Addrs.Add(ByteString.CopyFrom(address.ToBytes()));
        HopMessage answer = RelayCodec.HopStatus(Status.Ok);
        answer.Reservation = reservation;
        if (RelayCodec.ToLimit(_options.CircuitDuration, _options.CircuitDataBytes) is { } limit)
            answer.Limit = limit;
        await RelayCodec.WriteAsync(stream.Output, answer, cancellationToken).ConfigureAwait(false);
        await stream.CompleteOutputAsync().ConfigureAwait(false);
        Log.ReservationServed(_logger, peer, expires);
    }

    /// <summary>Our addresses for a reservation answer: the public ones (go sends only those), else every direct one (a lab, loopback tests).</summary>
    private List<Multiaddr> ReservationAddresses()
    {
        List<Multiaddr> direct = [.. _host.AdvertisedAddresses.Where(a => !RelayAddressing.IsCircuit(a))];
        List<Multiaddr> chosen = [.. direct.Where(a => _host.AddressClassifier.Classify(a) == AddressClass.Public)];
        if (chosen.Count == 0)
            chosen = direct;
        return [.. chosen.Take(_options.MaxAddresses).Select(a => a.WithPeerId(_host.PeerId))];
    }

    private async Task HandleConnectAsync(P2PStream stream, HopMessage request, CancellationToken cancellationToken)
    {
        PeerId source = stream.RemotePeer;
        if (stream.Connection.IsLimited || stream.Connection.IsRelayed())
        {
            await RefuseAsync(stream, "CONNECT", Status.PermissionDenied, "over a relayed connection", cancellationToken).ConfigureAwait(false);
            return;
        }
        if (request.Peer is null || !PeerId.TryFromBytes(request.Peer.Id.Span, out PeerId? destination) || destination is null)
        {
            await RefuseAsync(stream, "CONNECT", Status.MalformedMessage, "no valid peer id", cancellationToken).ConfigureAwait(false);
            return;
        }
        (Status Status, string Reason)? refusal = null;
        DateTimeOffset now = _time.GetUtcNow();
        lock (_gate)
        {
            if (!_reservations.TryGetValue(destination, out (DateTimeOffset Expires, IPAddress Ip) reservation) || reservation.Expires <= now)
                refusal = (Status.NoReservation, $"{destination.ToShortString()} holds no reservation here");
            else if (destination == source)
                refusal = (Status.PermissionDenied, "a circuit to itself");
            else if (_circuits >= _options.MaxCircuits)
                refusal = (Status.ResourceLimitExceeded, $"{_options.MaxCircuits} circuits is the limit");
            else if (_circuitsPerPeer.GetValueOrDefault(source) >= _options.MaxCircuitsPerPeer
                || _circuitsPerPeer.GetValueOrDefault(destination) >= _options.MaxCircuitsPerPeer)
                refusal = (Status.ResourceLimitExceeded, $"{_options.MaxCircuitsPerPeer} circuits per peer is the limit");
            else
            {
                _circuits++;
                _circuitsPerPeer[source] = _circuitsPerPeer.GetValueOrDefault(source) + 1;
                _circuitsPerPeer[destination] = _circuitsPerPeer.GetValueOrDefault(destination) + 1;
            }
        }
        if (refusal is { } refused)
        {
            if (refused.Status == Status.ResourceLimitExceeded)
                _host.Resources.CountRefusal(LimitKind.RelayCircuits);
            await RefuseAsync(stream, "CONNECT", refused.Status, refused.Reason, cancellationToken).ConfigureAwait(false);
            return;
        }
        try
        {
            await ConnectAsync(stream, source, destination, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _circuits--;
                Release(source);
                Release(destination);
            }
        }
    }

    private void Release(PeerId peer)
    {
        int left = _circuitsPerPeer.GetValueOrDefault(peer) - 1;
        if (left <= 0)
            _circuitsPerPeer.Remove(peer);
        else
            _circuitsPerPeer[peer] = left;
    }

    /// <summary>Asks the destination to take the circuit (stop CONNECT), answers the source, then splices the two streams.</summary>
    private async Task ConnectAsync(P2PStream source, PeerId sourceId, PeerId destination, CancellationToken cancellationToken)
    {
        Limit? limit = RelayCodec.ToLimit(_options.CircuitDuration, _options.CircuitDataBytes);
        P2PStream? stop = null;
        string? failure = null;
        try
        {
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.ConnectTimeout);
            Connection? target = _host.GetConnection(destination);
            if (target is null || target.IsLimited)
                failure = "the destination is not connected";
            else
            {
                stop = await target.OpenStreamAsync(RelayCodec.StopProtocol, timeout.Token).ConfigureAwait(false);
                StopMessage request = new()
                {
                    Type = StopMessage.Types.Type.Connect,
                    Peer = new Peer { Id = ByteString.CopyFrom(sourceId.ToBytes()) },
                };
                if (limit is not null)
                    request.Limit = limit;
                await RelayCodec.WriteAsync(stop.Output, request, timeout.Token).ConfigureAwait(false);
                StopMessage? answer = await RelayCodec.ReadStopAsync(stop.Input, timeout.Token).ConfigureAwait(false);
                if (answer is null || !answer.HasType || answer.Type != StopMessage.Types.Type.Status)
                    failure = "the destination did not answer with a STATUS";
                else if (answer.Status != Status.Ok)
                    failure = "the destination refused: " + RelayCodec.Describe(answer.Status);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            stop?.Reset();
            throw;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ProtocolViolationException or TimeoutException
            or PeerNotConnectedException or Multistream.ProtocolNotSupportedException or LimitedConnectionException or ObjectDisposedException)
        {
            failure = e is OperationCanceledException ? $"the destination did not answer within {_options.ConnectTimeout.TotalSeconds} s" : e.Message;
        }
        if (failure is not null)
        {
            stop?.Reset();
            await RefuseAsync(source, "CONNECT", Status.ConnectionFailed, failure, cancellationToken).ConfigureAwait(false);
            return;
        }
        HopMessage ok = RelayCodec.HopStatus(Status.Ok);
        if (limit is not null)
            ok.Limit = limit;
        try
        {
            await RelayCodec.WriteAsync(source.Output, ok, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            stop!.Reset();
            source.Reset();
            return;
        }
        Interlocked.Increment(ref _circuitsServed);
        Log.CircuitOpened(_logger, sourceId, destination);
        P2PStream stopStream = stop!;
        CircuitOutcome outcome = await CircuitSplice.RunAsync(
            new CircuitEnd(source, source.CompleteOutputAsync, source.Reset),
            new CircuitEnd(stopStream, stopStream.CompleteOutputAsync, stopStream.Reset),
            _options.CircuitDuration, _options.CircuitDataBytes, _time, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _bytesRelayed, outcome.FromA + outcome.FromB);
        Log.CircuitClosed(_logger, sourceId, destination, outcome.Reason, outcome.FromA, outcome.FromB);
    }

    private async Task RefuseAsync(P2PStream stream, string request, Status status, string reason, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _refused);
        Log.HopRefused(_logger, request, stream.RemotePeer, RelayCodec.Describe(status), reason);
        try
        {
            await RelayCodec.WriteAsync(stream.Output, RelayCodec.HopStatus(status), cancellationToken).ConfigureAwait(false);
            await stream.CompleteOutputAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            stream.Reset();
        }
    }

    /// <summary>Stops serving: the hop protocol is withdrawn and the reservations forgotten (open circuits end with their connections).</summary>
    public ValueTask DisposeAsync()
    {
        SetServing(false);
        lock (_gate)
            _disposed = true;
        _host.PeerDisconnected -= OnPeerDisconnected;
        if (_host.AutoNat is { } autoNat)
            autoNat.ReachabilityChanged -= OnReachabilityChanged;
        return ValueTask.CompletedTask;
    }
}
