using System.Net;
using System.Net.Sockets;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Transport.Tcp;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Dcutr;

/// <summary>
/// Direct Connection Upgrade through Relay (<c>/libp2p/dcutr</c>, libp2p specs <c>relay/DCUtR.md</c>) for a
/// host (<see cref="HostOptions.EnableDcutr"/>): turns a relayed (limited) connection into a direct one.
/// </summary>
/// <remarks>
/// <para>The peer that was dialed through the relay (the spec's B, our inbound limited connection) leads:
/// when identify shows the other peer has public addresses it dials them (a unilateral upgrade);
/// otherwise it opens <c>/libp2p/dcutr</c> on the relayed connection, sends CONNECT with its public
/// addresses, measures the round trip to the answering CONNECT, sends SYNC, waits half the round trip
/// and dials; the other peer (A) dials as soon as SYNC arrives. Both dial from their listening port, so
/// each NAT's mapping is the address the other dials: a TCP simultaneous open. Up to
/// <see cref="DcutrLimits.MaxAttempts"/> attempts, each with a fresh exchange.</para>
/// <para>On the punched connection A is the Noise initiator, multistream dialer and yamux client and B
/// responds, whoever's SYN made the connection (<see cref="DcutrRoles"/>); a socket our listener accepts
/// from an address being punched is upgraded in that role too (<see cref="ExpectedInbound"/>).</para>
/// <para>The host keeps the direct connection in place of the relayed one, which it closes after
/// <see cref="DcutrOptions.RelayedGracePeriod"/>. Both sides report each outcome by <see cref="Completed"/>.</para>
/// </remarks>
public sealed class DcutrService
{
    private const int MaxRememberedResults = 1024;

    /// <summary>How long a punch whose dials all failed still waits for the peer's connection to come in.</summary>
    private static readonly TimeSpan LateInboundWait = TimeSpan.FromSeconds(1);

    private readonly Libp2pHost _host;
    private readonly DcutrOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<IPEndPoint, Expectation> _expected = [];
    private readonly Dictionary<Connection, int> _connectsReceived = [];
    private readonly HashSet<Connection> _upgrading = [];
    private readonly Dictionary<PeerId, CancellationTokenSource> _leading = [];   // our latest upgrade as B, per peer
    private readonly Dictionary<PeerId, int> _following = [];                      // the peer's upgrades we answer as A
    private readonly Dictionary<PeerId, DcutrResult> _results = [];
    private CancellationToken _stopping = CancellationToken.None;

    internal DcutrService(Libp2pHost host, DcutrOptions options, ILoggerFactory loggers, TimeProvider time)
    {
        _host = host;
        _options = options;
        _logger = loggers.CreateLogger<DcutrService>();
        _time = time;
        host.PeerConnected += OnPeerConnected;
        host.PeerDisconnected += OnPeerDisconnected;
    }

    /// <summary>
    /// Raised on both sides when an upgrade ends: a direct connection (with its address and our role),
    /// or a failure with the reason the peer stays relayed. Runs on a background task; must not block.
    /// </summary>
    public event Action<DcutrResult>? Completed;

    /// <summary>The last outcome for <paramref name="peer"/> while it is connected, e.g. why it is relayed.</summary>
    public DcutrResult? LastResult(PeerId peer)
    {
        lock (_gate)
            return _results.GetValueOrDefault(peer);
    }

    internal void Start(CancellationToken stopping) => _stopping = stopping;

    private void OnPeerConnected(Connection connection)
    {
        if (!connection.IsLimited || connection.Direction != ConnectionDirection.Inbound)
            return;
        lock (_gate)
        {
            if (!_upgrading.Add(connection))
                return;
        }
        _host.TrackBackground(UpgradeAsync(connection));
    }

    private void OnPeerDisconnected(Connection connection)
    {
        lock (_gate)
            _results.Remove(connection.RemotePeer);
    }

    /// <summary>
    /// The role for a socket our listener accepted from <paramref name="remote"/>: the punch's role and
    /// peer when a hole punch with that address (IP and port) is under way, else null (an ordinary
    /// inbound connection: responder).
    /// </summary>
    internal (ConnectionRole Role, PeerId Peer)? ExpectedInbound(Multiaddr remote)
    {
        if (!remote.TryGetTcpEndPoint(out IPEndPoint? endPoint) || endPoint is null)
            return null;
        lock (_gate)
            return _expected.TryGetValue(endPoint, out Expectation? expected) ? (expected.Role, expected.Peer) : null;
    }

    /// <summary>B: the peer dialed us through a relay; try to get a direct connection to it.</summary>
    private async Task UpgradeAsync(Connection relayed)
    {
        PeerId peer = relayed.RemotePeer;
        long started = _time.GetTimestamp();
        using CancellationTokenSource lifetime = CancellationTokenSource.CreateLinkedTokenSource(_stopping, relayed.Closed);
        lock (_gate)
            _leading[peer] = lifetime;
        try
        {
            CancellationToken cancellationToken = lifetime.Token;
            Log.UpgradeStarted(_logger, peer);
            IdentifyInfo? info = await IdentifiedAsync(relayed, cancellationToken).ConfigureAwait(false);
            if (DirectConnection(peer) is not null || Yielded(relayed))
                return;                                   // something else connected us meanwhile, or another upgrade leads
            if (_options.UnilateralUpgrade && info is not null)
            {
                Multiaddr[] reachable = [.. info.ListenAddresses
                    .Where(a => DcutrCodec.IsDialable(a, _host.AddressClassifier, peer))
                    .Select(a => a.WithoutPeerId()).Distinct().Take(DcutrLimits.MaxAddresses)];
                if (reachable.Length > 0)
                {
                    (Connection? direct, string? reason) = await PunchAsync(peer, reachable, ConnectionRole.Initiator, cancellationToken)
                        .ConfigureAwait(false);
                    if (direct is not null)
                    {
                        Report(new DcutrResult(peer, DcutrOutcome.DirectDial, 0, direct.RemoteAddress, direct.Role, null, false,
                            _time.GetElapsedTime(started)));
                        return;
                    }
                    Log.DirectDialFailed(_logger, peer, reason ?? "no connection");
                }
            }

            string reasonOfLast = "no attempt made";
            List<IReadOnlyList<Multiaddr>> theirs = [];
            for (int attempt = 1; attempt <= DcutrLimits.MaxAttempts; attempt++)
            {
                if (attempt > 1)
                    await Task.Delay(_options.RetryDelay, _time, cancellationToken).ConfigureAwait(false);
                if (Yielded(relayed))
                    return;                               // the upgrade that goes on reports
                if (DirectConnection(peer) is { } late)
                {
                    Report(new DcutrResult(peer, DcutrOutcome.HolePunched, attempt - 1, late.RemoteAddress, late.Role, null, false,
                        _time.GetElapsedTime(started)));
                    return;
                }
                (Connection? direct, string? reason) = await AttemptAsync(relayed, attempt, theirs, cancellationToken).ConfigureAwait(false);
                if (direct is not null)
                {
                    Report(new DcutrResult(peer, DcutrOutcome.HolePunched, attempt, direct.RemoteAddress, direct.Role, null, false,
                        _time.GetElapsedTime(started)));
                    return;
                }
                reasonOfLast = reason ?? "no connection";
                Log.AttemptFailed(_logger, attempt, peer, reasonOfLast);
            }
            ReportFailure(peer, DcutrLimits.MaxAttempts, reasonOfLast, theirs, started);
        }
        catch (OperationCanceledException) when (Yielded(relayed))
        {
            // the upgrade that goes on reports the outcome
        }
        catch (OperationCanceledException)
        {
            Log.RelayedEnded(_logger, peer);
        }
        catch (Exception e)
        {
            Log.UpgradeCrashed(_logger, peer, e);
        }
        finally
        {
            lock (_gate)
            {
                _upgrading.Remove(relayed);
                if (_leading.GetValueOrDefault(peer) == lifetime)
                    _leading.Remove(peer);
            }
        }
    }

    /// <summary>
    /// Whether our upgrade over <paramref name="relayed"/> gives way: the peer dialed us through a relay
    /// as we dialed it, and both hosts keep the other relayed connection (so the peer leads its upgrade,
    /// or a newer one of ours does), or we answer the peer's upgrade. Two upgrades at once would take the
    /// same punched socket in opposite roles (both Noise initiators) and fail every attempt.
    /// </summary>
    private bool Yielded(Connection relayed)
    {
        PeerId peer = relayed.RemotePeer;
        if (_host.GetConnection(peer) is { IsLimited: true } kept && kept != relayed)
            return true;
        lock (_gate)
            return _following.GetValueOrDefault(peer) > 0;
    }

    /// <summary>B's attempt: CONNECT, CONNECT back (the round trip), SYNC, half the round trip, punch.</summary>
    private async Task<(Connection? Direct, string? Reason)> AttemptAsync(Connection relayed, int attempt,
        List<IReadOnlyList<Multiaddr>> theirsSoFar, CancellationToken cancellationToken)
    {
        PeerId peer = relayed.RemotePeer;
        P2PStream stream;
        try
        {
            stream = await relayed.OpenStreamAsync(DcutrCodec.ProtocolId, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsPeerFailure(e))
        {
            return (null, "cannot open /libp2p/dcutr: " + e.Message);
        }
        try
        {
            IReadOnlyList<Multiaddr> theirs;
            TimeSpan rtt;
            using (CancellationTokenSource exchange = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                exchange.CancelAfter(_options.ExchangeTimeout);
                long sent = _time.GetTimestamp();
                await DcutrCodec.WriteAsync(stream.Output, DcutrCodec.Connect(OwnAddresses()), exchange.Token).ConfigureAwait(false);
                Pb.HolePunch reply = await DcutrCodec.ReadAsync(stream.Input, exchange.Token).ConfigureAwait(false)
                    ?? throw new ProtocolViolationException(DcutrCodec.ProtocolId, "stream closed before the CONNECT answer");
                rtt = _time.GetElapsedTime(sent);
                if (reply.Type != Pb.HolePunch.Types.Type.Connect)
                    throw new ProtocolViolationException(DcutrCodec.ProtocolId, $"expected CONNECT, got {reply.Type}");
                theirs = Usable(peer, reply);
                theirsSoFar.Add(theirs);
                if (theirs.Count == 0)
                    return (null, "the peer sent no public address");
                ConnectionRole role = DcutrRoles.OnPunchedConnection(receivedSync: false, attempt);
                using Registration expecting = Expect(peer, theirs, role);
                await DcutrCodec.WriteAsync(stream.Output, DcutrCodec.Sync(), exchange.Token).ConfigureAwait(false);
                await stream.CompleteOutputAsync().ConfigureAwait(false);
                Log.Punching(_logger, attempt, peer, rtt.TotalMilliseconds, string.Join(", ", theirs), role);
                await Task.Delay(rtt / 2, _time, cancellationToken).ConfigureAwait(false);
                (Connection? Direct, string? Reason) punched = await PunchAsync(peer, theirs, role, cancellationToken).ConfigureAwait(false);
                await AwaitEndAsync(stream, cancellationToken).ConfigureAwait(false);
                return punched;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"no DCUtR answer within {_options.ExchangeTimeout.TotalSeconds:0} s");
        }
        catch (Exception e) when (IsPeerFailure(e))
        {
            return (null, e.Message);
        }
        finally
        {
            stream.Reset();
        }
    }

    /// <summary>
    /// Waits (briefly) until the peer closes its side of the exchange: resetting the stream at once could
    /// overtake our SYNC, which the peer may not have read yet (a punch that fails at once is that fast).
    /// </summary>
    private static async Task AwaitEndAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            while (await DcutrCodec.ReadAsync(stream.Input, bound.Token).ConfigureAwait(false) is not null)
            {
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ProtocolViolationException or ObjectDisposedException)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>A: the stream handler for <c>/libp2p/dcutr</c>: answer CONNECT, and on SYNC dial at once.</summary>
    internal async Task HandleAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        Connection relayed = stream.Connection;
        PeerId peer = relayed.RemotePeer;
        long started = _time.GetTimestamp();
        Registration? expecting = null;
        bool following = false;
        try
        {
            IReadOnlyList<Multiaddr> theirs;
            int attempt;
            ConnectionRole role;
            using (CancellationTokenSource exchange = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                exchange.CancelAfter(_options.ExchangeTimeout);
                Pb.HolePunch? connect = await DcutrCodec.ReadAsync(stream.Input, exchange.Token).ConfigureAwait(false);
                if (connect is null)
                    return;
                if (connect.Type != Pb.HolePunch.Types.Type.Connect)
                    throw new ProtocolViolationException(DcutrCodec.ProtocolId, $"{connect.Type} before CONNECT");
                CancellationTokenSource? ours;
                lock (_gate)
                {
                    // Both lead, each over its inbound relayed connection: the upgrade over the connection both
                    // hosts keep goes on (the same answer on both sides), the other gives way.
                    ours = _leading.GetValueOrDefault(peer);
                    following = ours is null || _host.GetConnection(peer) == relayed;
                    if (following)
                        _following[peer] = _following.GetValueOrDefault(peer) + 1;
                }
                if (ours is not null)
                {
                    Log.BothLead(_logger, peer, following ? peer.ToString() : "us");
                    if (!following)
                    {
                        stream.Reset();
                        return;
                    }
                    try
                    {
                        await ours.CancelAsync().ConfigureAwait(false);
                    }
                    catch (ObjectDisposedException)
                    {
                        // our upgrade ended meanwhile
                    }
                }
                lock (_gate)
                    _connectsReceived[relayed] = attempt = _connectsReceived.GetValueOrDefault(relayed) + 1;
                if (attempt == 1)
                    relayed.Closed.UnsafeRegister(_ => { lock (_gate) _connectsReceived.Remove(relayed); }, null);
                theirs = Usable(peer, connect);
                role = DcutrRoles.OnPunchedConnection(receivedSync: true, attempt);
                // Expected from now on: once B has our answer, its SYN may reach our listener before SYNC reaches us.
                expecting = Expect(peer, theirs, role);
                await DcutrCodec.WriteAsync(stream.Output, DcutrCodec.Connect(OwnAddresses()), exchange.Token).ConfigureAwait(false);
                Pb.HolePunch? sync = await DcutrCodec.ReadAsync(stream.Input, exchange.Token).ConfigureAwait(false);
                if (sync is null)
                    return;                               // B gave up (e.g. we sent no usable address)
                if (sync.Type != Pb.HolePunch.Types.Type.Sync)
                    throw new ProtocolViolationException(DcutrCodec.ProtocolId, $"expected SYNC, got {sync.Type}");
            }
            await stream.CompleteOutputAsync().ConfigureAwait(false);
            (Connection? direct, string? reason) = theirs.Count == 0
                ? (null, "the peer sent no public address")
                : await PunchAsync(peer, theirs, role, cancellationToken).ConfigureAwait(false);
            bool superseded;
            lock (_gate)
                superseded = _connectsReceived.GetValueOrDefault(relayed) > attempt;
            if (direct is not null)
            {
                // B retries as soon as its own dial fails, while we may still wait for its SYN: a connection
                // that comes then is the newer attempt's, and that attempt reports it.
                if (!superseded)
                {
                    Report(new DcutrResult(peer, DcutrOutcome.HolePunched, attempt, direct.RemoteAddress, direct.Role, null, false,
                        _time.GetElapsedTime(started)));
                }
            }
            else
            {
                Log.AttemptFailed(_logger, attempt, peer, reason ?? "no connection");
                if (attempt >= DcutrLimits.MaxAttempts)
                    ReportFailure(peer, attempt, reason ?? "no connection", [theirs], started);
            }
        }
        finally
        {
            expecting?.Dispose();
            if (following)
            {
                lock (_gate)
                {
                    if (_following[peer] <= 1)
                        _following.Remove(peer);
                    else
                        _following[peer]--;
                }
            }
        }
    }

    /// <summary>
    /// Dials <paramref name="addresses"/> of <paramref name="peer"/> at once from our listening port and
    /// upgrades the first connection in <paramref name="role"/>; a connection our listener accepts from the
    /// peer meanwhile counts too. Null and the last error when none is made within the punch timeout.
    /// </summary>
    private async Task<(Connection? Direct, string? Reason)> PunchAsync(PeerId peer, IReadOnlyList<Multiaddr> addresses,
        ConnectionRole role, CancellationToken cancellationToken)
    {
        TaskCompletionSource<Connection> appeared = new(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnConnected(Connection c)
        {
            if (c.RemotePeer == peer && !c.IsLimited)
                appeared.TrySetResult(c);
        }
        _host.PeerConnected += OnConnected;
        using CancellationTokenSource punch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        punch.CancelAfter(_options.PunchTimeout);
        List<Task<DialOutcome>> pending = [];
        try
        {
            if (DirectConnection(peer) is { } existing)
                return (existing, null);
            foreach (Multiaddr address in addresses.Take(DcutrLimits.MaxParallelDials))
                pending.Add(DialAsync(peer, address, role, punch.Token));
            bool waitForInbound = false;
            string? lastError = null;
            List<Task<DialOutcome>> running = [.. pending];
            while (running.Count > 0)
            {
                Task finished = await Task.WhenAny([appeared.Task, .. running]).WaitAsync(punch.Token).ConfigureAwait(false);
                if (finished == appeared.Task)
                    return (appeared.Task.Result, null);
                Task<DialOutcome> dial = (Task<DialOutcome>)finished;
                running.Remove(dial);
                DialOutcome outcome = await dial.ConfigureAwait(false);
                if (outcome.Connection is { IsLimited: false } connection)
                    return (connection, null);
                waitForInbound |= outcome.InboundExpected;
                lastError = outcome.Error ?? lastError;
            }
            if (waitForInbound)
                return (await appeared.Task.WaitAsync(punch.Token).ConfigureAwait(false), null);
            // Every dial failed (a NAT may refuse our SYN before the peer's own SYN opened it), but the
            // peer's SYN may still come in through the mapping ours made: listen a little longer.
            using CancellationTokenSource late = CancellationTokenSource.CreateLinkedTokenSource(punch.Token);
            late.CancelAfter(LateInboundWait);
            try
            {
                return (await appeared.Task.WaitAsync(late.Token).ConfigureAwait(false), null);
            }
            catch (OperationCanceledException) when (!punch.IsCancellationRequested)
            {
                return (null, lastError ?? "no address to dial");
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"no direct connection within {_options.PunchTimeout.TotalSeconds:0.#} s");
        }
        finally
        {
            _host.PeerConnected -= OnConnected;
            await punch.CancelAsync().ConfigureAwait(false);
            await ((Task)Task.WhenAll(pending)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private readonly record struct DialOutcome(Connection? Connection, string? Error, bool InboundExpected);

    /// <summary>One punch dial: from our listening port (no fallback: another port would not match the NAT mapping).</summary>
    private async Task<DialOutcome> DialAsync(PeerId peer, Multiaddr address, ConnectionRole role, CancellationToken cancellationToken)
    {
        if (!address.TryGetTcpEndPoint(out IPEndPoint? target) || target is null)
            return new(null, $"{address} is not a TCP address", false);
        IPEndPoint? local = TcpTransport.PortReuseSupported ? _host.ReusableLocalEndPoint(target) : null;
        TcpConnection tcp;
        try
        {
            tcp = await TcpTransport.ConnectAsync(target, local, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressAlreadyInUse)
        {
            // The 4-tuple is taken: the peer's SYN reached our listener first, which upgrades it in our role.
            return new(null, null, true);
        }
        catch (SocketException e)
        {
            Log.PunchDialFailed(_logger, address, e.SocketErrorCode.ToString());
            return new(null, $"{address}: {Describe(e.SocketErrorCode)}", false);
        }
        catch (OperationCanceledException)
        {
            return new(null, null, false);
        }
        try
        {
            Connection connection = await _host.AddConnectionAsync(tcp, role, ConnectionDirection.Outbound, peer, null, cancellationToken)
                .ConfigureAwait(false);
            return new(connection, null, false);
        }
        catch (DialFailedException e)
        {
            Log.PunchDialFailed(_logger, address, e.Reason);
            return new(null, $"{address}: {e.Reason}", false);
        }
        catch (OperationCanceledException)
        {
            return new(null, null, false);
        }
    }

    private static string Describe(SocketError error) => error switch
    {
        SocketError.ConnectionRefused => "connection refused",
        SocketError.NetworkUnreachable or SocketError.HostUnreachable => "address unreachable",
        SocketError.TimedOut => "timed out",
        _ => error.ToString(),
    };

    private async Task<IdentifyInfo?> IdentifiedAsync(Connection relayed, CancellationToken cancellationToken)
    {
        TaskCompletionSource<IdentifyInfo> identified = new(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnIdentified(Connection c, IdentifyInfo info)
        {
            if (c.RemotePeer == relayed.RemotePeer)
                identified.TrySetResult(info);
        }
        _host.PeerIdentified += OnIdentified;
        try
        {
            if (_host.PeerStore.Get(relayed.RemotePeer) is { Protocols.Count: > 0 } known)
                return known;
            return await identified.Task.WaitAsync(_options.IdentifyWait, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
        finally
        {
            _host.PeerIdentified -= OnIdentified;
        }
    }

    private Connection? DirectConnection(PeerId peer) => _host.GetConnection(peer) is { IsLimited: false } direct ? direct : null;

    private IReadOnlyList<Multiaddr> Usable(PeerId peer, Pb.HolePunch message)
    {
        (IReadOnlyList<Multiaddr> usable, int dropped) = DcutrCodec.UsableAddresses(message.ObsAddrs, _host.AddressClassifier, peer);
        if (dropped > 0)
            Log.AddressesDropped(_logger, peer, dropped);
        return usable;
    }

    /// <summary>What we send in CONNECT: our public advertised addresses, then public observed ones, IPv4 first.</summary>
    internal IReadOnlyList<Multiaddr> OwnAddresses()
    {
        IEnumerable<Multiaddr> candidates = _options.Addresses?.Invoke()
            ?? _host.AdvertisedAddresses.Concat(_host.ObservedAddressCandidates
                .OrderByDescending(c => c.Trusted).ThenByDescending(c => c.Observers).Select(c => c.Address));
        return [.. candidates
            .Where(a => DcutrCodec.IsDialable(a, _host.AddressClassifier, null))
            .Select(a => a.WithoutPeerId())
            .Distinct()
            .OrderBy(a => a.TryGetTcpEndPoint(out IPEndPoint? e) && e?.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)
            .Take(DcutrLimits.MaxAddresses)];
    }

    private void ReportFailure(PeerId peer, int attempts, string reason, List<IReadOnlyList<Multiaddr>> theirs, long started)
    {
        bool theirsMoved = false;
        for (int i = 1; i < theirs.Count; i++)
            theirsMoved |= DcutrCodec.PortsDiffer(theirs[i - 1], theirs[i]);
        bool oursVary = _host.ObservedAddressCandidates
            .GroupBy(c => c.Listen)
            .Any(g => g.Select(c => c.Address).Where(a => _host.AddressClassifier.IsPublic(a))
                .GroupBy(a => a.TryGetTcpEndPoint(out IPEndPoint? e) ? e?.Address : null)
                .Any(ip => ip.Key is not null && ip.Count() > 1));
        bool symmetric = theirsMoved || oursVary;
        string full = !symmetric ? reason
            : $"symmetric NAT suspected ({(theirsMoved ? "the peer's" : "our")} NAT changes ports per connection); last error: {reason}";
        Report(new DcutrResult(peer, DcutrOutcome.Failed, attempts, null, null, full, symmetric, _time.GetElapsedTime(started)));
    }

    private void Report(DcutrResult result)
    {
        lock (_gate)
        {
            if (_results.Count >= MaxRememberedResults && !_results.ContainsKey(result.Peer))
                _results.Remove(_results.Keys.First());
            _results[result.Peer] = result;
        }
        Log.Completed(_logger, result);
        try
        {
            Completed?.Invoke(result);
        }
        catch (Exception e)
        {
            Log.HandlerFailed(_logger, e);
        }
    }

    private Registration Expect(PeerId peer, IReadOnlyList<Multiaddr> addresses, ConnectionRole role)
    {
        Expectation expectation = new(peer, role);
        List<IPEndPoint> endPoints = [];
        lock (_gate)
        {
            foreach (Multiaddr address in addresses)
            {
                if (address.TryGetTcpEndPoint(out IPEndPoint? endPoint) && endPoint is not null)
                {
                    _expected[endPoint] = expectation;
                    endPoints.Add(endPoint);
                }
            }
        }
        return new Registration(this, endPoints, expectation);
    }

    private static bool IsPeerFailure(Exception e) =>
        e is ProtocolViolationException or IOException or PeerNotConnectedException or TimeoutException
            or ObjectDisposedException or LimitedConnectionException;

    private sealed record Expectation(PeerId Peer, ConnectionRole Role);

    /// <summary>Withdraws the expectations of one punch.</summary>
    private sealed class Registration(DcutrService owner, List<IPEndPoint> endPoints, Expectation expectation) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._gate)
            {
                foreach (IPEndPoint endPoint in endPoints)
                    if (owner._expected.TryGetValue(endPoint, out Expectation? current) && ReferenceEquals(current, expectation))
                        owner._expected.Remove(endPoint);
            }
        }
    }
}
