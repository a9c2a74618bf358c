using Microsoft.AspNetCore.Connections;

namespace Echo.Web;

/// <summary>
/// Keeps connections without a session from holding the web UI's slots: every new connection is
/// unauthenticated until a request on it shows the session (or the token); at most
/// <c>maxUnauthenticated</c> such connections are kept, a new one pushing out the oldest, and none
/// lives longer than <c>lifetime</c> without signing in. So however many sockets a local process
/// opens, the page with its cookie always gets a connection, and the WebSocket it opens next.
/// </summary>
internal sealed class ConnectionGate(int maxUnauthenticated, TimeSpan lifetime, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly LinkedList<ConnectionContext> _unauthenticated = [];
    private readonly Dictionary<string, LinkedListNode<ConnectionContext>> _byId = new(StringComparer.Ordinal);
    private long _pushedOut;
    private long _expired;

    /// <summary>Unauthenticated connections closed to make room for a newer one.</summary>
    public long PushedOut => Interlocked.Read(ref _pushedOut);

    /// <summary>Unauthenticated connections closed because they did not sign in within the lifetime.</summary>
    public long Expired => Interlocked.Read(ref _expired);

    /// <summary>Unauthenticated connections open now (at most the cap).</summary>
    public int Unauthenticated
    {
        get { lock (_gate) return _unauthenticated.Count; }
    }

    /// <summary>The Kestrel connection middleware: tracks the connection while <paramref name="next"/> serves it.</summary>
    public async Task RunAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        string id = connection.ConnectionId;
        ConnectionContext? oldest = null;
        lock (_gate)
        {
            if (_unauthenticated.Count >= maxUnauthenticated)
            {
                oldest = _unauthenticated.First!.Value;
                _unauthenticated.RemoveFirst();
                _byId.Remove(oldest.ConnectionId);
            }
            _byId[id] = _unauthenticated.AddLast(connection);
        }
        if (oldest is not null)
        {
            Interlocked.Increment(ref _pushedOut);
            oldest.Abort(new ConnectionAbortedException("too many connections without a session"));
        }
        using CancellationTokenSource deadline = new(lifetime, time);
        using CancellationTokenRegistration expiry = deadline.Token.Register(() =>
        {
            if (!Forget(id))
                return;
            Interlocked.Increment(ref _expired);
            connection.Abort(new ConnectionAbortedException("no session in time"));
        });
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            Forget(id);
        }
    }

    /// <summary>A request on connection <paramref name="connectionId"/> showed the session or the token: it is no longer counted.</summary>
    public void Authenticated(string connectionId) => Forget(connectionId);

    private bool Forget(string id)
    {
        lock (_gate)
        {
            if (!_byId.Remove(id, out LinkedListNode<ConnectionContext>? node))
                return false;
            _unauthenticated.Remove(node);
            return true;
        }
    }
}
