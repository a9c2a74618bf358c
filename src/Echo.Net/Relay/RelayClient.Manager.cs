using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Relay;

/// <summary>The reservation manager: one round at each event (a relay lost, a candidate identified, reachability changed) or check interval.</summary>
public sealed partial class RelayClient
{
    private async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    await ManageOnceAsync(stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    Log.ManagerFailed(_logger, e);
                }
                using CancellationTokenSource wait = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                Task delay = Task.Delay(NextRoundIn(), _time, wait.Token);
                Task woken = _wake.Reader.WaitToReadAsync(wait.Token).AsTask();
                // Either ends the wait; the other is cancelled and awaited, so nothing outlives the round.
                await Task.WhenAny(delay, woken).ConfigureAwait(false);
                await wait.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(delay, woken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                while (_wake.Reader.TryRead(out _))
                {
                }
            }
        }
        finally
        {
            DropAll("the relay client stopped");
        }
    }

    /// <summary>The wait before the next round: the check interval, or less when a refresh is due sooner.</summary>
    private TimeSpan NextRoundIn()
    {
        TimeSpan wait = _options.CheckInterval;
        DateTimeOffset now = _time.GetUtcNow();
        lock (_gate)
        {
            foreach (RelayReservation reservation in _reservations.Values)
            {
                TimeSpan due = RefreshAt(reservation) - now;
                if (due < wait)
                    wait = due;
            }
        }
        return wait < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : wait;
    }

    /// <summary>When a reservation is refreshed: <see cref="RelayClientOptions.RefreshBefore"/> before it expires, or halfway when its life is shorter.</summary>
    private DateTimeOffset RefreshAt(RelayReservation reservation)
    {
        TimeSpan life = reservation.Expires - reservation.ObtainedAt;
        TimeSpan slack = life / 2 < _options.RefreshBefore ? life / 2 : _options.RefreshBefore;
        return reservation.Expires - slack;
    }

    private async Task ManageOnceAsync(CancellationToken stopping)
    {
        if (!IsActive)
        {
            DropAll("reachability is not private");
            return;
        }
        DateTimeOffset now = _time.GetUtcNow();
        List<(PeerId Relay, Connection Connection)> refresh = [];
        List<(PeerId Relay, string Reason)> lost = [];
        lock (_gate)
        {
            foreach (RelayReservation reservation in _reservations.Values)
            {
                Connection? connection = _host.GetConnection(reservation.Relay);
                if (connection is null || connection.IsLimited)
                    lost.Add((reservation.Relay, "the connection to the relay closed"));
                else if (now >= reservation.Expires)
                    lost.Add((reservation.Relay, "expired"));
                else if (_refreshNow.Remove(reservation.Relay) || now >= RefreshAt(reservation))
                    refresh.Add((reservation.Relay, connection));
            }
        }
        foreach ((PeerId relay, string reason) in lost)
            Drop(relay, reason);
        foreach ((PeerId relay, Connection connection) in refresh)
            await TryReserveAsync(connection, stopping).ConfigureAwait(false);
        if (Count < _options.DesiredReservations)
            await FillAsync(stopping).ConfigureAwait(false);
        Publish();
    }

    private int Count
    {
        get
        {
            lock (_gate)
                return _reservations.Count;
        }
    }

    /// <summary>Reserves on connected candidates first (the preferred ones before others), then on the sources' candidates.</summary>
    private async Task FillAsync(CancellationToken stopping)
    {
        foreach (Connection connection in ConnectedCandidates())
        {
            if (Count >= _options.DesiredReservations)
                return;
            await TryReserveAsync(connection, stopping).ConfigureAwait(false);
        }
        IRelayCandidateSource[] sources;
        lock (_gate)
            sources = [.. _sources];
        foreach (IRelayCandidateSource source in sources)
        {
            IReadOnlyList<RelayCandidate> candidates;
            try
            {
                candidates = await source.GetCandidatesAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
            {
                Log.CandidateSourceFailed(_logger, e.Message);
                continue;
            }
            foreach (RelayCandidate candidate in candidates)
            {
                if (Count >= _options.DesiredReservations)
                    return;
                if (!IsEligible(candidate.Peer))
                    continue;
                Connection? connection = _host.GetConnection(candidate.Peer);
                foreach (Multiaddr address in candidate.Addresses)
                {
                    if (connection is not null || RelayAddressing.IsCircuit(address))
                        break;
                    try
                    {
                        connection = await _host.DialAsync(address.WithPeerId(candidate.Peer), stopping).ConfigureAwait(false);
                    }
                    catch (DialFailedException)
                    {
                    }
                }
                if (connection is null || connection.IsLimited)
                {
                    Backoff(candidate.Peer);
                    continue;
                }
                if (_host.PeerStore.Get(candidate.Peer) is { } info && !info.Supports(RelayCodec.HopProtocol))
                {
                    Backoff(candidate.Peer);
                    continue;
                }
                await TryReserveAsync(connection, stopping).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Connected peers on direct connections whose identify lists hop, not reserved on and not backing off; preferred relays first.</summary>
    private List<Connection> ConnectedCandidates()
    {
        List<Connection> result = [];
        foreach (Connection connection in _host.Connections)
        {
            if (connection.IsClosed || connection.IsLimited || !IsEligible(connection.RemotePeer))
                continue;
            if (_host.PeerStore.Get(connection.RemotePeer) is not { } info || !info.Supports(RelayCodec.HopProtocol))
                continue;
            result.Add(connection);
        }
        return [.. result.OrderBy(c => _options.PreferredRelays.Contains(c.RemotePeer) ? 0 : 1)];
    }

    private bool IsEligible(PeerId peer)
    {
        if (peer == _host.PeerId)
            return false;
        lock (_gate)
        {
            if (_reservations.ContainsKey(peer))
                return false;
            if (_backoff.TryGetValue(peer, out DateTimeOffset until))
            {
                if (_time.GetUtcNow() < until)
                    return false;
                _backoff.Remove(peer);
            }
            return true;
        }
    }

    private void Backoff(PeerId peer)
    {
        lock (_gate)
            _backoff[peer] = _time.GetUtcNow() + _options.FailureBackoff;
    }

    /// <summary>Reserves (or refreshes) on the relay at the other end of <paramref name="connection"/> and records the outcome.</summary>
    private async Task TryReserveAsync(Connection connection, CancellationToken stopping)
    {
        PeerId relay = connection.RemotePeer;
        RelayReservation reservation;
        try
        {
            reservation = await ReserveAsync(connection, stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is RelayRefusedException or ProtocolViolationException or IOException or TimeoutException
            or PeerNotConnectedException or Multistream.ProtocolNotSupportedException or ObjectDisposedException or OperationCanceledException
            or InvalidOperationException or LimitedConnectionException)
        {
            Log.ReservationFailed(_logger, relay, e.Message);
            Backoff(relay);
            Drop(relay, "the refresh failed: " + e.Message);
            return;
        }
        lock (_gate)
        {
            if (_disposed)
                return;
            _reservations[relay] = reservation;
        }
        _host.Resources.ConnectionManager.Protect(relay, ProtectionTag);
        Log.ReservationGranted(_logger, relay, reservation.Expires, reservation.Limit,
            reservation.Voucher is null ? "none" : "verified", string.Join(", ", reservation.CircuitAddresses));
        Changed();
    }

    private void Drop(PeerId relay, string reason)
    {
        bool removed;
        lock (_gate)
        {
            removed = _reservations.Remove(relay);
            _refreshNow.Remove(relay);
        }
        if (!removed)
            return;
        _host.Resources.ConnectionManager.Unprotect(relay, ProtectionTag);
        Log.ReservationLost(_logger, relay, reason);
        Changed();
    }

    private void DropAll(string reason)
    {
        PeerId[] relays;
        lock (_gate)
            relays = [.. _reservations.Keys];
        foreach (PeerId relay in relays)
            Drop(relay, reason);
        Publish();
    }

    private void Changed()
    {
        IReadOnlyList<RelayReservation> now = Reservations;
        try
        {
            ReservationsChanged?.Invoke(now);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.ManagerFailed(_logger, e);
        }
        Publish();
    }

    /// <summary>Puts the circuit addresses of the reservations into the host's advertised addresses (identify push tells the peers).</summary>
    private void Publish()
    {
        IReadOnlyList<Multiaddr> addresses = [.. Reservations.SelectMany(r => r.CircuitAddresses).Distinct()];
        lock (_gate)
        {
            if (_published.SequenceEqual(addresses))
                return;
            _published = addresses;
        }
        _host.SetExtraAddresses(AddressSource, addresses);
    }
}
