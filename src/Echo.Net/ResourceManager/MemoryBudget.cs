using Echo.Net.Identity;

namespace Echo.Net.ResourceManager;

/// <summary>
/// The process-wide budget for buffered inbound data, after go-libp2p's resource manager: memory is
/// reserved here before it may be used, from three scopes at once (the whole process, the peer, the
/// connection), and given back when the stream or connection that held it goes.
/// </summary>
/// <remarks>
/// <para>What is counted: yamux receive windows, because a window is what the peer may send without
/// asking, so the bytes a handler leaves unread can never exceed it. Each connection's first
/// <see cref="ConnectionFloorBytes"/> are outside the budget (its first four streams' initial windows), so
/// a connection always works even when others used the budget up; everything beyond (more streams,
/// window growth) is reserved here first.</para>
/// <para>When a reservation fails only the asking connection is throttled: its new inbound stream is
/// refused (RST), its window does not grow, its own new streams wait. The rest of the node carries on.</para>
/// <para>Thread-safe; one lock, a leaf (nothing else is taken while it is held).</para>
/// </remarks>
public sealed class MemoryBudget
{
    /// <summary>128 MiB: fits a laptop next to everything else, and is go-libp2p's default floor for the system scope.</summary>
    public const long DefaultLimitBytes = 128L * 1024 * 1024;

    /// <summary>
    /// 1 MiB per connection outside the budget: four yamux streams' initial windows, enough for a chat
    /// connection's usual streams (pubsub both ways, identify, a request), so an honest peer is served
    /// even while others hold the whole budget. 64 connections keep at most 64 MiB this way.
    /// </summary>
    public const long DefaultConnectionFloorBytes = 1024L * 1024;

    private readonly Lock _lock = new();
    private readonly Dictionary<PeerId, PeerUse> _peers = [];   // guarded by _lock
    private long _inUse;                                        // guarded by _lock
    private int _connections;                                   // guarded by _lock
    private long _refusedByLimit;                               // guarded by _lock
    private long _refusedByPeerShare;                           // guarded by _lock
    private long _refusedByConnectionShare;                     // guarded by _lock

    private sealed class PeerUse
    {
        public long InUse;
        public int Connections;
    }

    /// <summary>A budget of <paramref name="limitBytes"/> with the default shares (a quarter each for a connection and a peer).</summary>
    public MemoryBudget(long limitBytes = DefaultLimitBytes)
        : this(limitBytes, connectionShareBytes: limitBytes / 4, peerShareBytes: limitBytes / 4, DefaultConnectionFloorBytes)
    {
    }

    /// <param name="limitBytes">What all connections together may reserve.</param>
    /// <param name="connectionShareBytes">What one connection may reserve (beyond its floor).</param>
    /// <param name="peerShareBytes">What all connections to one peer together may reserve, so a second connection does not double a peer's share.</param>
    /// <param name="connectionFloorBytes">What each connection may use outside the budget.</param>
    public MemoryBudget(long limitBytes, long connectionShareBytes, long peerShareBytes, long connectionFloorBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limitBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(connectionShareBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(peerShareBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(connectionFloorBytes);
        LimitBytes = limitBytes;
        ConnectionShareBytes = Math.Min(connectionShareBytes, limitBytes);
        PeerShareBytes = Math.Min(peerShareBytes, limitBytes);
        ConnectionFloorBytes = connectionFloorBytes;
    }

    /// <summary>What all connections together may reserve.</summary>
    public long LimitBytes { get; }

    /// <summary>What one connection may reserve beyond its floor.</summary>
    public long ConnectionShareBytes { get; }

    /// <summary>What all connections to one peer may reserve together.</summary>
    public long PeerShareBytes { get; }

    /// <summary>What each connection may use without reserving.</summary>
    public long ConnectionFloorBytes { get; }

    /// <summary>The counters now: bytes in use and the limit, open scopes, and the reservations refused by each limit.</summary>
    public MemoryBudgetSnapshot Snapshot()
    {
        lock (_lock)
        {
            return new MemoryBudgetSnapshot(_inUse, LimitBytes, ConnectionShareBytes, PeerShareBytes, _connections,
                _peers.Count, _refusedByLimit, _refusedByPeerShare, _refusedByConnectionShare);
        }
    }

    /// <summary>Opens the scope of a new connection to <paramref name="peer"/>; dispose it when the connection ends.</summary>
    internal MemoryBudgetScope OpenConnection(PeerId peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_lock)
        {
            if (!_peers.TryGetValue(peer, out PeerUse? use))
                _peers.Add(peer, use = new PeerUse());
            use.Connections++;
            _connections++;
        }
        return new MemoryBudgetScope(this, peer);
    }

    internal bool TryReserve(MemoryBudgetScope scope, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_lock)
        {
            if (scope.ClosedLocked)
                return false;
            PeerUse peer = _peers[scope.Peer];
            if (scope.InUseLocked + bytes > ConnectionShareBytes)
            {
                _refusedByConnectionShare++;
                return false;
            }
            if (peer.InUse + bytes > PeerShareBytes)
            {
                _refusedByPeerShare++;
                return false;
            }
            if (_inUse + bytes > LimitBytes)
            {
                _refusedByLimit++;
                return false;
            }
            scope.InUseLocked += bytes;
            peer.InUse += bytes;
            _inUse += bytes;
            return true;
        }
    }

    internal void Release(MemoryBudgetScope scope, long bytes)
    {
        lock (_lock)
        {
            if (scope.ClosedLocked)
                return;   // everything it held went back when it closed
            bytes = Math.Min(bytes, scope.InUseLocked);
            scope.InUseLocked -= bytes;
            _peers[scope.Peer].InUse -= bytes;
            _inUse -= bytes;
        }
    }

    internal void Close(MemoryBudgetScope scope)
    {
        lock (_lock)
        {
            if (scope.ClosedLocked)
                return;
            scope.ClosedLocked = true;
            PeerUse peer = _peers[scope.Peer];
            peer.InUse -= scope.InUseLocked;
            _inUse -= scope.InUseLocked;
            scope.InUseLocked = 0;
            if (--peer.Connections == 0)
                _peers.Remove(scope.Peer);
            _connections--;
        }
    }

    internal long InUse(MemoryBudgetScope scope)
    {
        lock (_lock)
            return scope.InUseLocked;
    }
}

/// <summary>The counters of a <see cref="MemoryBudget"/> at one moment.</summary>
/// <param name="InUseBytes">Bytes reserved now, all connections together.</param>
/// <param name="LimitBytes">The process-wide limit.</param>
/// <param name="ConnectionShareBytes">What one connection may reserve.</param>
/// <param name="PeerShareBytes">What one peer may reserve over all its connections.</param>
/// <param name="Connections">Connections holding a scope.</param>
/// <param name="Peers">Peers with at least one such connection.</param>
/// <param name="RefusedByLimit">Reservations refused because the whole budget was used up.</param>
/// <param name="RefusedByPeerShare">Reservations refused because the peer's share was used up.</param>
/// <param name="RefusedByConnectionShare">Reservations refused because the connection's share was used up.</param>
public sealed record MemoryBudgetSnapshot(long InUseBytes, long LimitBytes, long ConnectionShareBytes, long PeerShareBytes,
    int Connections, int Peers, long RefusedByLimit, long RefusedByPeerShare, long RefusedByConnectionShare)
{
    /// <summary>All refused reservations.</summary>
    public long Refusals => RefusedByLimit + RefusedByPeerShare + RefusedByConnectionShare;
}
