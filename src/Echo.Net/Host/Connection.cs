using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Multistream;
using Echo.Net.Noise;
using Echo.Net.ResourceManager;
using Echo.Net.Threading;
using Echo.Net.Transport.Tcp;
using Echo.Net.Yamux;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Host;

/// <summary>
/// A live libp2p connection to one peer: a raw byte stream (TCP, or a relayed circuit), secured by
/// Noise, multiplexed by yamux. It owns those three layers and the tasks serving its inbound streams;
/// closing it ends all of them.
/// </summary>
/// <remarks>
/// A limited connection (<see cref="Limit"/>, e.g. relayed) carries only the protocols allowed on
/// limited connections (<see cref="Libp2pHost.IsAllowedOnLimited"/>), in both directions: a stream of
/// another protocol is refused, counted (<see cref="ResourceManager.LimitKind.LimitedConnection"/>) and
/// the error says why.
/// </remarks>
public sealed class Connection : IAsyncDisposable
{
    private readonly IRawConnection _tcp;
    private readonly NoiseSecureChannel _channel;
    private readonly YamuxSession _session;
    private readonly Libp2pHost _host;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly BackgroundTasks _handlers = new();   // the tasks serving inbound streams
    private Multiaddr? _remoteAddress;  // built on first use (equal values if two threads race)
    private Task _acceptLoop = Task.CompletedTask;
    private Task? _closeTask;

    internal Connection(IRawConnection tcp, NoiseSecureChannel channel, YamuxSession session,
        ConnectionDirection direction, Libp2pHost host, ILogger logger, ConnectionRole? role = null, ConnectionLimit? limit = null)
    {
        _tcp = tcp;
        _channel = channel;
        _session = session;
        _host = host;
        _logger = logger;
        Direction = direction;
        Role = role ?? (direction == ConnectionDirection.Outbound ? ConnectionRole.Initiator : ConnectionRole.Responder);
        Limit = limit;
        OpenedAt = host.Time.GetUtcNow();
    }

    public PeerId RemotePeer => _channel.RemotePeer;

    public PublicKey RemotePublicKey => _channel.RemotePublicKey;

    /// <summary>The remote's address as seen on the socket, with its <c>/p2p/</c> id.</summary>
    public Multiaddr RemoteAddress => _remoteAddress ??= _tcp.RemoteAddress.WithPeerId(RemotePeer);

    /// <remarks>Built on each call, not kept: it is rarely asked for, and an idle connection holds no copy.</remarks>
    public Multiaddr LocalAddress => _tcp.LocalAddress;

    /// <summary>Who opened the connection: we dialed it (<see cref="ConnectionDirection.Outbound"/>) or the remote did.</summary>
    public ConnectionDirection Direction { get; }

    /// <summary>Our part in the upgrade (multistream, Noise, yamux), which need not follow <see cref="Direction"/>.</summary>
    public ConnectionRole Role { get; }

    /// <summary>The limit of a limited (relayed) connection, or null for a full one.</summary>
    public ConnectionLimit? Limit { get; }

    /// <summary>True when only protocols allowed on limited connections may open streams here.</summary>
    public bool IsLimited => Limit is not null;

    /// <summary>
    /// What remains of a limited connection's data limit (bytes as the relay counts them, framing
    /// included; at least 0), or null when the connection is not limited or its data limit is unknown.
    /// Both directions are counted against the one limit: go's relay counts each direction on its own,
    /// js's relay counts both together, and we cannot tell which relay carries the circuit.
    /// </summary>
    public long? DataRemaining => Limit?.DataBytes is { } data && _tcp is CountingRawConnection counted
        ? Math.Max(0, data - counted.BytesSent - counted.BytesReceived)
        : null;

    /// <summary>
    /// True for a limited connection whose data limit is at most <see cref="ConnectionLimit.SmallDataBytes"/>:
    /// what runs on every new connection is cut down on it (identify lists only the protocols usable
    /// here, is not pushed, and is not asked again on the next such circuit; ping is a yamux ping; a
    /// profile the peer has is not sent again; history pages leave out the asker's own messages), so
    /// the chat still fits in a circuit of a few KiB.
    /// </summary>
    public bool HasSmallDataLimit => Limit?.DataBytes is { } data && data <= ConnectionLimit.SmallDataBytes;

    /// <summary>
    /// What remains of a limited connection's duration limit (at least zero), or null when the
    /// connection is not limited or its duration limit is unknown.
    /// </summary>
    public TimeSpan? TimeRemaining => Limit?.Duration is { } duration
        ? TimeSpan.FromTicks(Math.Max(0, (duration - (_host.Time.GetUtcNow() - OpenedAt)).Ticks))
        : null;

    public DateTimeOffset OpenedAt { get; }

    /// <summary>Fires when the connection ends, for whatever reason.</summary>
    public CancellationToken Closed => _session.Closed;

    public bool IsClosed => _session.Closed.IsCancellationRequested;

    internal int StreamCount => _session.StreamCount;

    /// <summary>What this connection holds of the host's resource manager; released when it ends.</summary>
    internal ConnectionSlot? Slot { get; init; }

    internal void Start()
    {
        _session.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>
    /// Opens a stream and negotiates the first of <paramref name="protocols"/> the peer supports.
    /// </summary>
    /// <exception cref="ProtocolNotSupportedException">The peer supports none of them.</exception>
    public async Task<P2PStream> OpenStreamAsync(IReadOnlyList<string> protocols, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfZero(protocols.Count);
        if (IsLimited)
        {
            IReadOnlyList<string> allowed = [.. protocols.Where(_host.IsAllowedOnLimited)];
            if (allowed.Count == 0)
            {
                _host.Resources.CountRefusal(LimitKind.LimitedConnection);
                throw new LimitedConnectionException(RemotePeer, protocols[0]);
            }
            protocols = allowed;
        }
        using CancellationTokenSource deadline = new(_host.Options.StreamNegotiationTimeout, _host.Time);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Closed, deadline.Token);
        YamuxStream stream = await _session.OpenStreamAsync(timeout.Token).ConfigureAwait(false);
        try
        {
            string protocol = await MultistreamSelect.SelectAsync(new DuplexPipe(stream.Input, stream.Output), protocols,
                timeout.Token).ConfigureAwait(false);
            return new P2PStream(stream, protocol, this);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            stream.Reset();
            throw IsClosed
                ? new PeerNotConnectedException(RemotePeer)
                : new TimeoutException($"{RemotePeer} did not agree on a protocol within {_host.Options.StreamNegotiationTimeout.TotalSeconds} s");
        }
        catch
        {
            stream.Reset();
            throw;
        }
    }

    public Task<P2PStream> OpenStreamAsync(string protocol, CancellationToken cancellationToken) =>
        OpenStreamAsync([protocol], cancellationToken);

    /// <summary>Round-trip time of a yamux ping on this connection.</summary>
    public Task<TimeSpan> MuxerPingAsync(CancellationToken cancellationToken) => _session.PingAsync(cancellationToken);

    private async Task AcceptLoopAsync()
    {
        try
        {
            // The session's end ends the loop (null); no token of our own, so an idle connection
            // holds no cancellation registration for it. Streams still in the backlog then are reset.
            while (await _session.AcceptStreamAsync(CancellationToken.None).ConfigureAwait(false) is { } stream)
            {
                if (IsClosed)
                    stream.Reset();
                else
                    _handlers.Track(ServeInboundAsync(stream));
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            Log.AcceptLoopFailed(_logger, RemotePeer, e.Message);
        }
        finally
        {
            if (_tcp is CountingRawConnection counted)
                Log.LimitedConnectionEnded(_logger, RemotePeer, Limit!, _host.Time.GetUtcNow() - OpenedAt, counted.BytesSent, counted.BytesReceived);
            _host.OnConnectionEnded(this);
        }
    }

    private async Task ServeInboundAsync(YamuxStream stream)
    {
        string? protocol = null;
        try
        {
            using CancellationTokenSource deadline = new(_host.Options.StreamNegotiationTimeout, _host.Time);
            using CancellationTokenSource negotiation = CancellationTokenSource.CreateLinkedTokenSource(Closed, deadline.Token);
            Func<string, bool> isSupported = _host.IsSupported;
            if (IsLimited)
            {
                bool counted = false;
                isSupported = p =>
                {
                    if (!_host.IsSupported(p))
                        return false;
                    if (_host.IsAllowedOnLimited(p))
                        return true;
                    if (!counted)
                    {
                        counted = true;
                        _host.Resources.CountRefusal(LimitKind.LimitedConnection);
                        Log.InboundStreamRejected(_logger, RemotePeer, p, "not allowed on a limited (relayed) connection");
                    }
                    return false;
                };
            }
            protocol = await MultistreamSelect.ListenAsync(new DuplexPipe(stream.Input, stream.Output),
                isSupported, negotiation.Token).ConfigureAwait(false);
            StreamHandler? handler = _host.GetHandler(protocol);
            if (handler is null)
            {
                stream.Reset();      // removed between negotiation and now
                return;
            }
            if (!_host.Resources.TryOpenStream(RemotePeer, protocol, _host.InboundStreamLimit(protocol)))
            {
                Log.InboundStreamRejected(_logger, RemotePeer, protocol, "too many streams of this protocol from this peer");
                stream.Reset();
                return;
            }
            try
            {
                await handler(new P2PStream(stream, protocol, this), Closed).ConfigureAwait(false);
            }
            finally
            {
                _host.Resources.CloseStream(RemotePeer, protocol);
                // The handler is done with the stream: what the peer sends after this is discarded
                // and no more window is granted, so a stream nobody reads holds no memory.
                await stream.Input.CompleteAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            stream.Reset();
        }
        catch (ProtocolViolationException e)
        {
            Log.InboundStreamRejected(_logger, RemotePeer, protocol ?? "(negotiation)", e.Message);
            stream.Reset();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The peer reset the stream, closed the connection or went away: ordinary, not a fault.
            Log.InboundStreamEnded(_logger, RemotePeer, protocol ?? "(negotiation)", e.Message);
            stream.Reset();
        }
        catch (Exception e)
        {
            Log.HandlerFailed(_logger, RemotePeer, protocol ?? "(negotiation)", e);
            stream.Reset();
        }
    }

    /// <summary>Closes the connection gracefully (yamux GoAway) and waits for its handlers to end.</summary>
    public Task CloseAsync()
    {
        lock (_gate)
            return _closeTask ??= CloseCoreAsync();
    }

    private async Task CloseCoreAsync()
    {
        try
        {
            using CancellationTokenSource bound = new(TimeSpan.FromSeconds(2));
            await _session.CloseAsync(bound.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ProtocolViolationException or ObjectDisposedException)
        {
        }
        await _session.DisposeAsync().ConfigureAwait(false);
        // Let Noise put what yamux queued (its GoAway, a last multistream echo) on the wire before
        // the socket goes. Bounded: a peer that stopped reading must not hold our shutdown.
        await _channel.SendCompletion.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _channel.DisposeAsync().ConfigureAwait(false);
        await _tcp.DisposeAsync().ConfigureAwait(false);
        Task[] handlers = _handlers.Snapshot();
        try
        {
            await Task.WhenAll([_acceptLoop, .. handlers]).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.HandlersOutlivedConnection(_logger, RemotePeer, handlers.Count(h => !h.IsCompleted));
        }
        catch (Exception)
        {
            // Each handler logged its own failure.
        }
    }

    public ValueTask DisposeAsync() => new(CloseAsync());

    /// <summary>Cuts the socket without any goodbye, as a killed process would.</summary>
    internal void AbortForTest() => _tcp.Abort();

    public override string ToString() => $"{Direction}{(IsLimited ? " limited" : "")} connection with {RemotePeer} at {RemoteAddress}";
}
