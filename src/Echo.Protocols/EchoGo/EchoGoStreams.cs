using Echo.Net;
using Echo.Net.Host;
using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols.EchoGo;

/// <summary>
/// The echo-go streams of every peer: at most one in use per peer, lines read from all of them.
/// </summary>
/// <remarks>
/// When both peers open a stream at the same moment, both keep the stream opened by the peer whose
/// id is smaller (byte order), so the two ends agree without talking; a second stream in the same
/// direction replaces the first (the peer reopened it). The losing stream is retired, not reset:
/// what was queued on it is still written, our side is half-closed, and it is read until the peer
/// closes its side, so no line already sent on it is lost. At most one losing stream per peer is
/// drained at a time; an older one is reset.
/// </remarks>
internal sealed class EchoGoStreams : IAsyncDisposable
{
    private readonly PeerId _local;
    private readonly Func<PeerId, string, CancellationToken, ValueTask> _onLine;
    private readonly Action<PeerId> _onFirstStream;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, PeerStreams> _peers = [];
    private readonly HashSet<Task> _readers = [];
    private readonly CancellationTokenSource _stopping = new();
    private long _tieBreaks;
    private bool _disposed;

    private sealed class PeerStreams
    {
        public EchoGoStream? Active;
        public EchoGoStream? Draining;
        public bool Opening;
        public bool Announced;
    }

    /// <param name="local">Our peer id, for the tie-break.</param>
    /// <param name="onLine">Called on a stream's reader task with each line (without '\n'); the reader reads on when it completes.</param>
    /// <param name="onFirstStream">Called once per connected peer when its first stream is in place.</param>
    public EchoGoStreams(PeerId local, Func<PeerId, string, CancellationToken, ValueTask> onLine, Action<PeerId> onFirstStream, ILogger logger)
    {
        _local = local;
        _onLine = onLine;
        _onFirstStream = onFirstStream;
        _logger = logger;
    }

    /// <summary>How many times two streams to one peer met and one was retired.</summary>
    public long TieBreaks => Interlocked.Read(ref _tieBreaks);

    /// <summary>Whether the stream in use for <paramref name="peer"/> is the one we opened (null: none), and how many are open.</summary>
    public (bool? ActiveIsOutbound, int Open) Describe(PeerId peer)
    {
        lock (_gate)
        {
            PeerStreams? streams = _peers.GetValueOrDefault(peer);
            return (streams?.Active?.Outbound, (streams?.Active is null ? 0 : 1) + (streams?.Draining is null ? 0 : 1));
        }
    }

    /// <summary>Whether <paramref name="peer"/> has had an echo-go stream on its current connection.</summary>
    public bool Speaks(PeerId peer)
    {
        lock (_gate)
            return _peers.TryGetValue(peer, out PeerStreams? streams) && streams.Announced;
    }

    /// <summary>The host's handler for inbound streams of <see cref="EchoGoLine.ProtocolId"/>.</summary>
    public Task HandleInboundAsync(P2PStream stream, CancellationToken cancellationToken) =>
        RunAsync(Register(stream, outbound: false), cancellationToken);

    /// <summary>Opens our stream to <paramref name="peer"/> unless one is in use or being opened.</summary>
    public async Task OpenAsync(Libp2pHost host, PeerId peer, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_disposed)
                return;
            if (!_peers.TryGetValue(peer, out PeerStreams? streams))
                _peers[peer] = streams = new PeerStreams();
            if (streams.Active is not null || streams.Opening)
                return;
            streams.Opening = true;
        }
        try
        {
            P2PStream stream = await host.OpenStreamAsync(peer, EchoGoLine.ProtocolId, cancellationToken).ConfigureAwait(false);
            EchoGoStream opened = Register(stream, outbound: true);
            Task reader = RunAsync(opened, stream.Connection.Closed);
            lock (_gate)
            {
                if (!reader.IsCompleted)
                    _readers.Add(reader);
            }
            _ = reader.ContinueWith(t =>
            {
                lock (_gate)
                    _readers.Remove(t);
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        finally
        {
            lock (_gate)
            {
                if (_peers.TryGetValue(peer, out PeerStreams? streams))
                    streams.Opening = false;
            }
        }
    }

    /// <summary>Queues <paramref name="line"/> on the stream in use of every peer for which <paramref name="include"/> holds.</summary>
    public int Broadcast(byte[] line, Func<PeerId, bool> include)
    {
        List<EchoGoStream> targets = [];
        lock (_gate)
        {
            foreach ((PeerId peer, PeerStreams streams) in _peers)
            {
                if (streams.Active is { } active && include(peer))
                    targets.Add(active);
            }
        }
        foreach (EchoGoStream target in targets)
            target.Send(line);
        return targets.Count;
    }

    /// <summary>The peer's connection is gone, and its streams with it.</summary>
    public void OnPeerDisconnected(PeerId peer)
    {
        lock (_gate)
            _peers.Remove(peer);
    }

    private EchoGoStream Register(P2PStream stream, bool outbound)
    {
        EchoGoStream added = new(stream, outbound, _logger);
        PeerId peer = stream.RemotePeer;
        EchoGoStream? loser = null;
        EchoGoStream? dropped = null;
        bool first = false;
        lock (_gate)
        {
            if (_disposed)
                loser = added;
            else
            {
                if (!_peers.TryGetValue(peer, out PeerStreams? streams))
                    _peers[peer] = streams = new PeerStreams();
                if (streams.Active is not { } active)
                    streams.Active = added;
                else
                {
                    // Different directions: keep the one opened by the smaller id. Same direction: the newer.
                    bool keepNew = active.Outbound != outbound
                        ? outbound == _local.Bytes.SequenceCompareTo(peer.Bytes) < 0
                        : true;
                    (streams.Active, loser) = keepNew ? (added, active) : (active, added);
                    dropped = streams.Draining;
                    streams.Draining = loser;
                    Interlocked.Increment(ref _tieBreaks);
                }
                first = !streams.Announced;
                streams.Announced = true;
            }
        }
        Log.EchoGoStreamOpened(_logger, peer, outbound ? "outbound" : "inbound");
        if (loser is not null)
        {
            Log.EchoGoStreamRetired(_logger, peer, loser.Outbound ? "outbound" : "inbound");
            loser.Retire();
        }
        dropped?.Stream.Reset();
        if (first)
            _onFirstStream(peer);
        return added;
    }

    private async Task RunAsync(EchoGoStream stream, CancellationToken cancellationToken)
    {
        PeerId peer = stream.Stream.RemotePeer;
        using CancellationTokenSource lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        try
        {
            while (await EchoGoLineReader.ReadLineAsync(stream.Stream.Input, lifetime.Token).ConfigureAwait(false) is { } line)
                await _onLine(peer, line, lifetime.Token).ConfigureAwait(false);   // waits while the chat is behind
            await stream.Stream.Input.CompleteAsync().ConfigureAwait(false);
            // The peer closed its side: close ours once the queued lines are out.
            Forget(stream);
            stream.Retire();
            await stream.Writer.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        catch (OversizedMessageException e)
        {
            Log.EchoGoLineTooLong(_logger, peer, e.Message);
            Forget(stream);
            stream.Stream.Reset();
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            Log.EchoGoStreamEnded(_logger, peer, e.Message);
            Forget(stream);
            stream.Stream.Reset();
        }
    }

    private void Forget(EchoGoStream stream)
    {
        lock (_gate)
        {
            if (!_peers.TryGetValue(stream.Stream.RemotePeer, out PeerStreams? streams))
                return;
            if (streams.Active == stream)
                streams.Active = null;
            if (streams.Draining == stream)
                streams.Draining = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task[] readers;
        List<EchoGoStream> streams = [];
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            readers = [.. _readers];
            foreach (PeerStreams peer in _peers.Values)
            {
                if (peer.Active is { } active)
                    streams.Add(active);
                if (peer.Draining is { } draining)
                    streams.Add(draining);
            }
            _peers.Clear();
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (EchoGoStream stream in streams)
            stream.Retire();
        await Task.WhenAll([.. readers, .. streams.Select(s => s.Writer)]).WaitAsync(TimeSpan.FromSeconds(5))
            .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
