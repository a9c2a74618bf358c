using System.Threading.Channels;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging;

namespace Echo.Net.AutoNat;

/// <summary>A connection opened for one dial back, and what goes with it; disposing closes both.</summary>
internal sealed class AutoNatDialBack(Connection connection, Func<ValueTask> release) : IAsyncDisposable
{
    public Connection Connection { get; } = connection;

    public async ValueTask DisposeAsync()
    {
        await Connection.CloseAsync().ConfigureAwait(false);
        await release().ConfigureAwait(false);
    }
}

/// <summary>
/// AutoNAT for a host (<see cref="HostOptions.EnableAutoNat"/>): asks connected AutoNAT servers
/// (v2, else v1) whether our candidate addresses are reachable, keeps the verdict per address
/// (<see cref="ReachabilityTracker"/>), re-checks periodically and when addresses change, raises
/// <see cref="ReachabilityChanged"/>, and serves checks to others while we are public (or always
/// with <see cref="AutoNatServerMode.On"/>).
/// </summary>
/// <remarks>
/// Until an address is confirmed public, and whenever the answers age out because no server answers,
/// <see cref="Reachability"/> is not public and the node behaves as private. Which addresses count as
/// public, and which connections as limited, is the host's (<see cref="Addressing.AddressClassifier"/>,
/// <see cref="Connection.Limit"/>) unless the options say otherwise. Dial backs come from a fresh
/// dial-only host with a fresh identity each (never our listening port, never an existing connection:
/// a shared one would deliver a nonce for an address nobody dialed).
/// </remarks>
public sealed class AutoNatService : IReachabilitySource
{
    private readonly Libp2pHost _host;
    private readonly AutoNatOptions _options;
    private readonly Func<Multiaddr, bool> _isPublic;
    private readonly Func<Connection, bool> _isLimited;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ReachabilityTracker _tracker;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Lock _gate = new();
    private ReachabilityReport _report = ReachabilityReport.Unknown;
    private bool _serving;

    internal AutoNatService(Libp2pHost host, AutoNatOptions options, ILoggerFactory loggers, TimeProvider time)
    {
        _host = host;
        _options = options;
        _loggers = loggers;
        _logger = loggers.CreateLogger<AutoNatService>();
        _time = time;
        _isPublic = options.IsPublic ?? host.AddressClassifier.IsPublic;
        _isLimited = options.IsLimited ?? (static c => c.IsLimited);
        _tracker = new ReachabilityTracker(options.Threshold, options.RecheckInterval, time);
        Client = new AutoNatClient(host, options, time, _logger);
        Server = new AutoNatServer(options, _isPublic, _isLimited, DialBackAsync, time, _logger);
    }

    /// <summary>Our reachability now.</summary>
    public ReachabilityReport Reachability
    {
        get
        {
            lock (_gate)
                return _report;
        }
    }

    /// <summary>Whether we serve AutoNAT checks now.</summary>
    public bool IsServing
    {
        get
        {
            lock (_gate)
                return _serving;
        }
    }

    /// <summary>What our server has done.</summary>
    public AutoNatServerStats ServerStats => Server.Stats;

    /// <summary>Raised on every change of <see cref="Reachability"/> (status or addresses).</summary>
    public event Action<ReachabilityReport>? ReachabilityChanged;

    internal AutoNatClient Client { get; }

    internal AutoNatServer Server { get; }

    internal ReachabilityTracker Tracker => _tracker;

    /// <summary>Says our candidate addresses may have changed (a new observed address, a new listener): check again now.</summary>
    public void NotifyAddressesChanged() => _wake.Writer.TryWrite(true);

    /// <summary>Registers the dial-back handler (and the server when forced on) and starts checking.</summary>
    internal void Start(CancellationToken stopping)
    {
        _host.SetStreamHandler(AutoNatCodec.DialBackProtocol, Client.HandleDialBackAsync, maxInboundStreamsPerPeer: 2);
        if (_options.ServerMode == AutoNatServerMode.On)
            SetServing(true);
        _host.PeerIdentified += OnPeerIdentified;
        _host.AddressesChanged += OnAddressesChanged;
        _host.TrackBackground(RunAsync(stopping));
    }

    private void OnAddressesChanged(IReadOnlyList<Multiaddr> addresses) => NotifyAddressesChanged();

    /// <summary>The default candidates: trusted observed addresses first (what a NAT shows), then the listen addresses.</summary>
    private IReadOnlyList<Multiaddr> DefaultCandidates() => [.. _host.ObservedAddresses, .. _host.AdvertisedAddresses];

    private void OnPeerIdentified(Connection connection, IdentifyInfo info)
    {
        if (IsServer(info.Protocols))
            _wake.Writer.TryWrite(true);
    }

    private static bool IsServer(IReadOnlyList<string> protocols) =>
        protocols.Contains(AutoNatCodec.DialRequestProtocol, StringComparer.Ordinal)
        || protocols.Contains(AutoNatCodec.V1Protocol, StringComparer.Ordinal);

    private async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                bool settled = false;
                try
                {
                    settled = await RoundAsync(stopping).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
                {
                    // A round that fails (an address source that throws, say) is retried, never ends checking.
                    Log.RoundFailed(_logger, e);
                }
                await WaitAsync(settled ? _options.RecheckInterval : _options.RetryInterval, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task WaitAsync(TimeSpan interval, CancellationToken stopping)
    {
        using CancellationTokenSource timer = new(interval, _time);
        using CancellationTokenSource wait = CancellationTokenSource.CreateLinkedTokenSource(stopping, timer.Token);
        try
        {
            await _wake.Reader.ReadAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>One pass over the candidates; true when every candidate has a fresh verdict.</summary>
    internal async Task<bool> RoundAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<Multiaddr> candidates = (_options.Candidates ?? DefaultCandidates)();
        _tracker.SetCandidates(candidates.Where(a => AutoNatAddresses.IpOf(a) is not null && _isPublic(a)).Distinct().Take(MaxCandidates));
        bool settled = true;
        foreach (Multiaddr address in _tracker.Candidates)
        {
            await CheckAddressAsync(address, cancellationToken).ConfigureAwait(false);
            settled &= _tracker.IsSettled(address);
            Publish();
        }
        Publish();
        return settled;
    }

    private static readonly DialOptions NoPortReuse = new() { ReusePort = false };

    /// <summary>Addresses checked at most (in priority order).</summary>
    private const int MaxCandidates = 8;

    private async Task CheckAddressAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        Queue<Connection> servers = new(_host.Connections.Where(c => !c.IsClosed && !_isLimited(c)
            && _host.PeerStore.Get(c.RemotePeer) is { } info && IsServer(info.Protocols) && _tracker.NeedsAnswer(address, c.RemotePeer)));
        while (servers.Count > 0 && !_tracker.IsSettled(address))
        {
            List<Task> batch = [];
            while (servers.Count > 0 && batch.Count < _options.MaxConcurrentChecks)
                batch.Add(CheckWithAsync(servers.Dequeue(), address, cancellationToken));
            await Task.WhenAll(batch).ConfigureAwait(false);
        }
    }

    private async Task CheckWithAsync(Connection server, Multiaddr address, CancellationToken cancellationToken)
    {
        AutoNatCheck check = await Client.CheckAsync(server, [address], cancellationToken).ConfigureAwait(false);
        Log.Checked(_logger, check.Address, server.RemotePeer, check.Protocol, check.Outcome, check.Reason);
        if (check.Address is not null && check.Address.Equals(address)
            && check.Outcome is AutoNatOutcome.Reachable or AutoNatOutcome.Unreachable)
            _tracker.Record(address, server.RemotePeer, check.Outcome == AutoNatOutcome.Reachable);
    }

    private void Publish()
    {
        ReachabilityReport report = _tracker.Report();
        lock (_gate)
        {
            if (report.SameAs(_report))
                return;
            _report = report;
        }
        Log.ReachabilityChanged(_logger, report.Status, string.Join(' ', report.Addresses));
        if (_options.ServerMode == AutoNatServerMode.Auto)
            SetServing(report.IsPublic);
        try
        {
            ReachabilityChanged?.Invoke(report);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.HandlerFailed(_logger, e);
        }
    }

    private void SetServing(bool serving)
    {
        lock (_gate)
        {
            if (_serving == serving)
                return;
            _serving = serving;
        }
        if (serving)
        {
            _host.SetStreamHandler(AutoNatCodec.DialRequestProtocol, Server.HandleDialRequestAsync, maxInboundStreamsPerPeer: 2);
            _host.SetStreamHandler(AutoNatCodec.V1Protocol, Server.HandleV1Async, maxInboundStreamsPerPeer: 2);
        }
        else
        {
            _host.RemoveStreamHandler(AutoNatCodec.DialRequestProtocol);
            _host.RemoveStreamHandler(AutoNatCodec.V1Protocol);
        }
        Log.ServerState(_logger, serving ? "on" : "off");
    }

    /// <summary>
    /// Dials <paramref name="address"/> back on a NEW connection from a fresh dial-only host. Not our
    /// own host: it would hand back the connection it already has to that peer (dials are idempotent,
    /// <see cref="Libp2pHost.DialAsync(Multiaddr, CancellationToken)"/>), and a nonce delivered on it
    /// would prove nothing about the address; and it dials from its listening port, which would punch
    /// the very NAT hole we are testing for. The dial-only host has no listener and dials with
    /// <see cref="DialOptions.ReusePort"/> off, so the socket has an ephemeral port; its identity is
    /// fresh, so the requester cannot match it to a connection it already has.
    /// </summary>
    internal async Task<AutoNatDialBack> DialBackAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        KeyPair key = KeyPair.Generate();
        Libp2pHost dialer = new(key, new HostOptions
        {
            AgentVersion = _host.Options.AgentVersion,
            DialTimeout = _options.DialBackTimeout,
            Yamux = _host.Options.Yamux,
        }, _loggers, _time);
        async ValueTask ReleaseAsync()
        {
            await dialer.DisposeAsync().ConfigureAwait(false);
            key.Dispose();
        }
        try
        {
            Connection connection = await dialer.DialAsync(address, NoPortReuse, cancellationToken).ConfigureAwait(false);
            return new AutoNatDialBack(connection, ReleaseAsync);
        }
        catch
        {
            await ReleaseAsync().ConfigureAwait(false);
            throw;
        }
    }
}
