using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols.Peers;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols;

/// <summary>
/// Idempotent dials, and remembered peers (<see cref="ChatNetworkOptions.RememberPeers"/>): every
/// peer we are connected to goes into the <see cref="PeerBook"/> with the address our dial worked
/// at and those its identify reported; at start and whenever a connection drops, a
/// <see cref="Redialer"/> dials it again with back-off until it is back, forgotten (/forget) or
/// unseen for <see cref="RememberedPeersOptions.ForgetAfter"/>.
/// </summary>
public sealed partial class Libp2pChatNetwork : IPeerNetwork
{
    private PeerBook? _book;

    /// <summary>The peer book, while remembering peers is on (for tests).</summary>
    internal PeerBook? Book => _book;
    private Redialer? _redialer;
    private RememberedPeersOptions? _remember;
    private readonly HashSet<PeerId> _redialing = [];
    private bool _saveRequested;
    private bool _saveRunning;

    /// <inheritdoc />
    public async Task<ConnectResult> DialAsync(string address, CancellationToken cancellationToken)
    {
        if (!Multiaddr.TryParse(address, out Multiaddr? target, out string? error))
            throw new ChatNetworkException(error ?? "invalid multiaddr");
        try
        {
            HashSet<Connection> before = [.. _host.Connections];
            Connection connection = await _host.DialAsync(target!, cancellationToken).ConfigureAwait(false);
            return new ConnectResult(connection.RemotePeer.ToString(), before.Contains(connection));
        }
        catch (DialFailedException e)
        {
            throw new ChatNetworkException(e.Reason, e);
        }
        catch (ObjectDisposedException e)
        {
            throw new ChatNetworkException("the network is stopped", e);
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<RememberedPeer> AwayPeers
    {
        get
        {
            if (_book is null)
                return [];
            List<RememberedPeer> away = [];
            foreach ((PeerId peer, DateTimeOffset lastSeen) in _book.Peers)
            {
                if (_host.GetConnection(peer) is not null)
                    continue;
                away.Add(new RememberedPeer(peer.ToString(), FirstAddress(peer), lastSeen, _redialer?.NextDial(peer), _book.Nick(peer)));
            }
            return away;
        }
    }

    /// <summary>
    /// The addresses to dial a remembered peer at, best first (where our last dial to it worked, then
    /// what its identify reported), each ending in <c>/p2p/</c> with its id; empty when the peer is
    /// not remembered or remembering is off.
    /// </summary>
    public IReadOnlyList<Multiaddr> RememberedAddresses(PeerId peer) =>
        _book is null ? [] : [.. _book.Addresses(peer).Select(a => a.WithPeerId(peer))];

    /// <inheritdoc />
    public Task<bool> ForgetAsync(string peerId, CancellationToken cancellationToken)
    {
        if (!PeerId.TryParse(peerId, out PeerId? peer, out string? error) || peer is null)
            throw new ChatNetworkException(error ?? "not a peer id");
        return Task.FromResult(Forget(peer, "asked to"));
    }

    private bool Forget(PeerId peer, string reason)
    {
        if (_book is null)
            return false;
        _redialer?.Stop(peer);
        if (!_book.Forget(peer))
            return false;
        _host.Resources.ConnectionManager.Unprotect(peer, RememberedTag);
        Log.PeerForgotten(_logger, peer, reason);
        Post(new PeerForgotten(peer.ToString()));
        ScheduleSave();
        return true;
    }

    /// <summary>Peers being redialed now (for tests).</summary>
    internal int Redialing => _redialer?.Count ?? 0;

    private string? FirstAddress(PeerId peer) =>
        _book?.Addresses(peer) is [{ } first, ..] ? first.WithPeerId(peer).ToString() : null;

    /// <summary>Opens the book, forgets who was unseen too long, and starts redialing the rest (after the host listens).</summary>
    private void StartPeers()
    {
        if (_options.RememberPeers is not { } remember)
            return;
        _remember = remember;
        string? problem = null;
        _book = remember.File is null ? PeerBook.InMemory() : PeerBook.Open(remember.File, out problem);
        if (problem is not null)
            Log.PeerBookProblem(_logger, problem);
        _redialer = new Redialer(DialRememberedAsync, peer => _host.GetConnection(peer) is not null, remember.Redial,
            _loggers.CreateLogger<Redialer>(), _time);
        _redialer.Scheduled += (peer, due) =>
        {
            if (_book.LastSeen(peer) is { } lastSeen)
                Post(new PeerReconnecting(new RememberedPeer(peer.ToString(), FirstAddress(peer), lastSeen, due, _book.Nick(peer))));
        };
        IReadOnlyList<PeerId> expired = _book.Expire(_time.GetUtcNow() - remember.ForgetAfter, peer => _host.GetConnection(peer) is not null);
        foreach (PeerId peer in expired)
            Log.PeerForgotten(_logger, peer, $"unseen for {remember.ForgetAfter.TotalDays:0} days");
        if (expired.Count > 0)
            ScheduleSave();
        foreach ((PeerId peer, _) in _book.Peers)
        {
            if (_book.Addresses(peer).Count > 0 && _host.GetConnection(peer) is null)
                _redialer.Start(peer, TimeSpan.Zero);
        }
    }

    /// <summary>One redial: each known address in turn until one answers.</summary>
    private async Task DialRememberedAsync(PeerId peer, CancellationToken cancellationToken)
    {
        if (_book?.LastSeen(peer) is not { } lastSeen)
        {
            _redialer?.Stop(peer);
            return;
        }
        if (lastSeen < _time.GetUtcNow() - _remember!.ForgetAfter)
        {
            Forget(peer, $"unseen for {_remember.ForgetAfter.TotalDays:0} days");
            return;
        }
        IReadOnlyList<Multiaddr> addresses = _book.Addresses(peer);
        if (addresses.Count == 0)
            throw new ChatNetworkException("no known address");
        lock (_gate)
            _redialing.Add(peer);
        try
        {
            string reason = "no address answered";
            foreach (Multiaddr address in addresses)
            {
                try
                {
                    await _host.DialAsync(address.WithPeerId(peer), cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (DialFailedException e)
                {
                    reason = $"{address}: {e.Reason}";
                }
            }
            throw new ChatNetworkException(reason);
        }
        finally
        {
            lock (_gate)
                _redialing.Remove(peer);
        }
    }

    /// <summary>A peer connected: remember it (with the address our dial worked at) and stop redialing it.</summary>
    private void RememberConnected(Connection connection)
    {
        if (_book is null)
            return;
        _book.Seen(connection.RemotePeer, _time.GetUtcNow(),
            connection.Direction == ConnectionDirection.Outbound ? connection.RemoteAddress : null);
        _redialer?.Stop(connection.RemotePeer);
        ScheduleSave();
    }

    private void RememberIdentified(Connection connection, IdentifyInfo info)
    {
        if (_book is null || !_book.Contains(connection.RemotePeer))
            return;
        _book.Reported(connection.RemotePeer, info.ListenAddresses);
        ScheduleSave();
    }

    /// <summary>A connected peer announced its nick (its signed profile, checked): the book keeps it for when the peer is away.</summary>
    private void RememberNick(PeerId peer, string nick)
    {
        if (_book is not null && _book.Announced(peer, nick))
            ScheduleSave();
    }

    /// <summary>A remembered peer's connection dropped: it was seen until now, and is redialed after the back-off's first wait.</summary>
    private void RememberDisconnected(PeerId peer)
    {
        if (_book is null || !_book.Contains(peer) || _stopping.IsCancellationRequested)
            return;
        _book.Seen(peer, _time.GetUtcNow());
        ScheduleSave();
        if (_book.Addresses(peer).Count > 0 && !RedialingCircuit(peer))
            _redialer?.Start(peer);
    }

    /// <summary>Writes the book soon; saves asked for while one runs are written together after it.</summary>
    private void ScheduleSave()
    {
        if (_book is null)
            return;
        lock (_gate)
        {
            _saveRequested = true;
            if (_saveRunning)
                return;
            _saveRunning = true;
        }
        Track(SaveLoopAsync(_book));
    }

    private async Task SaveLoopAsync(PeerBook book)
    {
        await Task.Yield();
        while (true)
        {
            lock (_gate)
            {
                if (!_saveRequested)
                {
                    _saveRunning = false;
                    return;
                }
                _saveRequested = false;
            }
            await SaveBookAsync(book).ConfigureAwait(false);
        }
    }

    private async Task SaveBookAsync(PeerBook book)
    {
        try
        {
            await book.SaveAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            Log.PeerBookProblem(_logger, "cannot save: " + e.Message);
        }
    }

    /// <summary>Stops redialing; the peers still connected were seen until now, and the book is written a last time.</summary>
    private async ValueTask DisposePeersAsync()
    {
        if (_redialer is not null)
            await _redialer.DisposeAsync().ConfigureAwait(false);
        if (_book is null)
            return;
        DateTimeOffset now = _time.GetUtcNow();
        foreach (Connection connection in _host.Connections)
        {
            if (_book.Contains(connection.RemotePeer))
                _book.Seen(connection.RemotePeer, now);
        }
        await SaveBookAsync(_book).ConfigureAwait(false);
    }
}
