using Echo.Core;
using Echo.Net.Host;
using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols.EchoGo;

/// <summary>
/// The echo-go streams of every peer, following what echo-go itself does: it opens a stream only
/// when it dialed, keeps the newest one it opened, closes at once a stream that arrives while it has
/// one, and forgets the peer for good when any of its streams ends.
/// </summary>
/// <remarks>
/// So towards a peer we never close or reset a stream while the connection lives (that would make
/// echo-go forget us), we read every stream, and we write each line once, to the newest open stream
/// the peer opened, else to ours. We open ours when we dialed the connection, or after a grace with
/// nothing from the peer; lines wait until a stream we opened has settled, so a stream the peer
/// closes unread (its own crossed ours) takes none with it. When the peer's last stream is gone while
/// the connection lives we open a new one, a few times at most per connection.
/// </remarks>
internal sealed class EchoGoStreams : IAsyncDisposable
{
    private readonly Func<PeerId, EchoGoReadLine, CancellationToken, ValueTask> _onLine;
    private readonly Action<PeerId> _onSpeaks;
    private readonly EchoGoOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, EchoGoPeer> _peers = [];
    private readonly BackgroundTasks _tasks = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Libp2pHost _host;
    private long _crossings;
    private bool _disposed;

    /// <param name="onLine">Called on a stream's reader task with each line; the reader reads on when it completes (backpressure).</param>
    /// <param name="onSpeaks">Called once per connected peer when we learn it speaks echo-go.</param>
    public EchoGoStreams(Libp2pHost host, Func<PeerId, EchoGoReadLine, CancellationToken, ValueTask> onLine, Action<PeerId> onSpeaks, EchoGoOptions options,
        TimeProvider time, ILogger logger)
    {
        _host = host;
        _onLine = onLine;
        _onSpeaks = onSpeaks;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>How many times a peer had a stream it opened and one we opened at once.</summary>
    public long Crossings => Interlocked.Read(ref _crossings);

    /// <summary>How many of the peer's streams are open, and whether lines go to one we opened (null: none usable yet).</summary>
    public (int Open, bool? SendsOnOutbound) Describe(PeerId peer)
    {
        EchoGoPeer? known;
        lock (_gate)
            known = _peers.GetValueOrDefault(peer);
        if (known is null)
            return (0, null);
        (int open, bool? outbound, _, _) = known.Describe();
        return (open, outbound);
    }

    /// <summary>Whether <paramref name="peer"/> speaks echo-go on its current connection (identify said so, or it opened a stream).</summary>
    public bool Speaks(PeerId peer)
    {
        lock (_gate)
            return _peers.ContainsKey(peer);
    }

    /// <summary>
    /// Identify says the peer on <paramref name="connection"/> speaks echo-go: lines may be queued for it,
    /// and, when <paramref name="open"/>, we open our stream now if we dialed, else after the grace unless
    /// the peer opened one.
    /// </summary>
    public void OnIdentified(Connection connection, bool open)
    {
        EchoGoPeer? peer = Get(connection.RemotePeer, out bool added);
        if (peer is null)
            return;
        if (open)
        {
            if (connection.Direction == ConnectionDirection.Outbound)
                Allow(peer, TimeSpan.Zero);
            else
                Allow(peer, _options.Grace);
        }
        if (added)
            _onSpeaks(connection.RemotePeer);
    }

    /// <summary>The host's handler for inbound streams of <see cref="EchoGoLine.ProtocolId"/>.</summary>
    public async Task HandleInboundAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        EchoGoPeer? peer = Get(stream.RemotePeer, out bool added);
        if (peer is null)
            return;
        EchoGoStream inbound = new(stream, outbound: false, _time.GetTimestamp());
        if (added)
            _onSpeaks(stream.RemotePeer);
        await RunAsync(peer, inbound, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens our stream to <paramref name="peer"/> now unless one is open or being opened (tests drive the race with it).</summary>
    public async Task OpenAsync(PeerId peer, CancellationToken cancellationToken)
    {
        EchoGoPeer? known = Get(peer, out bool added);
        if (known is null)
            return;
        lock (_gate)
            known.Opens.Allow();
        if (added)
            _onSpeaks(peer);
        await OpenIfNoneAsync(known, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Queues <paramref name="line"/> for every echo-go peer for which <paramref name="include"/> holds; a
    /// peer for which <paramref name="onlyWithStream"/> holds only when it has a stream open already.
    /// </summary>
    /// <param name="onlyWithStream">
    /// For an Echo node (it speaks gossipsub too): a line queued before any stream exists would reach it
    /// after gossipsub has offered it the same message, and be shown twice.
    /// </param>
    public int Broadcast(byte[] line, Func<PeerId, bool> include, Func<PeerId, bool>? onlyWithStream = null)
    {
        List<EchoGoPeer> targets = [];
        lock (_gate)
        {
            foreach ((PeerId peer, EchoGoPeer known) in _peers)
            {
                if (include(peer) && (onlyWithStream is null || !onlyWithStream(peer) || known.Describe().Open > 0))
                    targets.Add(known);
            }
        }
        foreach (EchoGoPeer target in targets)
            target.Send(line);
        return targets.Count;
    }

    /// <summary>The peer's connection is gone, and its streams with it.</summary>
    public void OnPeerDisconnected(PeerId peer)
    {
        EchoGoPeer? gone;
        lock (_gate)
            _peers.Remove(peer, out gone);
        gone?.Lifetime.Cancel();
    }

    private EchoGoPeer? Get(PeerId peer, out bool added)
    {
        added = false;
        lock (_gate)
        {
            if (_disposed)
                return null;
            if (_peers.TryGetValue(peer, out EchoGoPeer? known))
                return known;
            known = new EchoGoPeer(peer, _time, _logger);
            _peers[peer] = known;
            added = true;
            known.StartWriter();
            _tasks.Track(known.Writer);
            return known;
        }
    }

    /// <summary>After <paramref name="delay"/>, we may open our own stream, and do unless the peer has one open.</summary>
    private void Allow(EchoGoPeer peer, TimeSpan delay) => _tasks.Track(AllowAsync(peer, delay));

    private async Task AllowAsync(EchoGoPeer peer, TimeSpan delay)
    {
        try
        {
            if (delay > TimeSpan.Zero)
                await Task.Delay(delay, _time, peer.Lifetime.Token).ConfigureAwait(false);
            lock (_gate)
                peer.Opens.Allow();
            await OpenIfNoneAsync(peer, peer.Lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !peer.Lifetime.IsCancellationRequested)
        {
            Log.EchoGoOpenFailed(_logger, peer.Peer, e.Message);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task OpenIfNoneAsync(EchoGoPeer peer, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_disposed || _peers.GetValueOrDefault(peer.Peer) != peer || !peer.Opens.TryBegin(peer.Describe().Open))
                return;
        }
        try
        {
            using CancellationTokenSource both = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, peer.Lifetime.Token);
            P2PStream stream = await _host.OpenStreamAsync(peer.Peer, EchoGoLine.ProtocolId, both.Token).ConfigureAwait(false);
            long usableAt = _time.GetTimestamp() + (long)(_options.Settle.TotalSeconds * _time.TimestampFrequency);
            _tasks.Track(RunAsync(peer, new EchoGoStream(stream, outbound: true, usableAt), stream.Connection.Closed));
        }
        finally
        {
            lock (_gate)
                peer.Opens.End();
        }
    }

    private async Task RunAsync(EchoGoPeer peer, EchoGoStream stream, CancellationToken cancellationToken)
    {
        string direction = stream.Outbound ? "outbound" : "inbound";
        if (peer.Add(stream))
            Interlocked.Increment(ref _crossings);
        Log.EchoGoStreamOpened(_logger, peer.Peer, direction);
        using CancellationTokenSource lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token,
            peer.Lifetime.Token);
        try
        {
            while (await EchoGoLineReader.ReadLineAsync(stream.Stream.Input, lifetime.Token).ConfigureAwait(false) is { } line)
                await _onLine(peer.Peer, line, lifetime.Token).ConfigureAwait(false);   // waits while the chat is behind
            Log.EchoGoStreamEnded(_logger, peer.Peer, direction, "closed by the peer");
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            Log.EchoGoStreamEnded(_logger, peer.Peer, direction, e.Message);
        }
        // Never closed or reset here: our side stays open until the connection goes. A stream that went
        // with a duplicate connection the host closed counts too: the peer is still connected.
        if (peer.Remove(stream) == 0 && !peer.Lifetime.IsCancellationRequested && !_stopping.IsCancellationRequested)
            _tasks.Track(ReopenAsync(peer));
    }

    /// <summary>The peer's last stream ended while the connection lives: after a moment, open ours (if we may).</summary>
    private async Task ReopenAsync(EchoGoPeer peer)
    {
        try
        {
            await Task.Delay(_options.Settle, _time, peer.Lifetime.Token).ConfigureAwait(false);
            await OpenIfNoneAsync(peer, peer.Lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !peer.Lifetime.IsCancellationRequested)
        {
            Log.EchoGoOpenFailed(_logger, peer.Peer, e.Message);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        EchoGoPeer[] peers;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            peers = [.. _peers.Values];
            _peers.Clear();
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (EchoGoPeer peer in peers)
            await peer.Lifetime.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_tasks.Snapshot()).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
