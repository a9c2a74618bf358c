using System.Collections.Concurrent;
using Echo.Net.DnsAddr;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Threading;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Bootstrap;

/// <summary>
/// Connects to the bootstrap peers (<c>--bootstrap</c>, <c>--public</c>): resolves their
/// <c>/dnsaddr</c> names on each attempt (a bare <c>/dnsaddr/&lt;name&gt;</c> names the peers its
/// records end in, found once at start and again until one is), dials every peer (its addresses in turn, then those that
/// reached it before), at most <see cref="RedialOptions.MaxConcurrentDials"/> at once, again with
/// back-off until it answers, and again when one drops while fewer than
/// <see cref="BootstrapOptions.MinConnected"/> are connected. The addresses that reached a peer are
/// kept in a <see cref="BootstrapCache"/>, so the next start can dial them when DNS cannot help.
/// </summary>
public sealed class Bootstrapper : IAsyncDisposable
{
    private readonly Libp2pHost _host;
    private readonly BootstrapOptions _options;
    private readonly DnsAddrResolver _resolver;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggers;
    private readonly ConcurrentDictionary<PeerId, Multiaddr[]> _peers = new();
    private readonly ConcurrentDictionary<PeerId, string> _namedBy = new();
    private readonly List<Multiaddr> _names = [];
    private readonly BackgroundTasks _saves = new();
    private readonly BackgroundTasks _discovering = new();
    private readonly CancellationTokenSource _stoppingToken = new();
    private readonly Lock _gate = new();
    private BootstrapCache _cache = BootstrapCache.InMemory();
    private Redialer? _redialer;
    private bool _saveRequested;
    private bool _saveRunning;
    private int _started;
    private int _disposed;
    private volatile bool _stopping;

    /// <param name="lookup">Where TXT records come from; null asks <see cref="BootstrapOptions.DnsServer"/> (or the system's resolver).</param>
    public Bootstrapper(Libp2pHost host, BootstrapOptions options, ILoggerFactory loggers, TimeProvider? time = null, ITxtLookup? lookup = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _host = host;
        _options = options;
        _time = time ?? TimeProvider.System;
        _loggers = loggers;
        _logger = loggers.CreateLogger<Bootstrapper>();
        _resolver = new DnsAddrResolver(lookup ?? new DnsTxtLookup(options.DnsServer, options.DnsQueryTimeout), options.DnsAddr,
            loggers.CreateLogger<DnsAddrResolver>());
        foreach (Multiaddr address in options.Peers)
        {
            if (address.PeerId is { } peer)
                AddAddress(peer, address);
            else if (!_names.Contains(address))
                _names.Add(address);
        }
    }

    /// <summary>The bootstrap peers known so far, each once (a bare <c>/dnsaddr</c> name adds those its records name).</summary>
    public IReadOnlyCollection<PeerId> Peers => [.. _peers.Keys];

    /// <summary>Bootstrap peers connected now.</summary>
    public int ConnectedCount => _peers.Keys.Count(peer => _host.GetConnection(peer) is not null);

    /// <summary>The addresses that reached bootstrap peers (for tests and diagnostics).</summary>
    public BootstrapCache Cache => _cache;

    /// <summary>Opens the cache and starts dialing every bootstrap peer; call once, after the host listens.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("the bootstrapper is already started");
        if (_options.StateFile is { } file)
        {
            _cache = BootstrapCache.Open(file, out string? problem);
            if (problem is not null)
                Log.CacheProblem(_logger, problem);
        }
        _redialer = new Redialer(DialAsync, peer => _host.GetConnection(peer) is not null, _options.Redial,
            _loggers.CreateLogger<Redialer>(), _time);
        _host.PeerConnected += OnPeerConnected;
        _host.PeerDisconnected += OnPeerDisconnected;
        Log.Starting(_logger, _peers.Count + _names.Count);
        foreach (PeerId peer in _peers.Keys)
            StartPeer(peer);
        foreach (Multiaddr name in _names)
        {
            // The peers a name led to before, so a DNS outage does not strand us.
            foreach (PeerId peer in _cache.NamedBy(name.ToString()))
            {
                _namedBy.TryAdd(peer, name.ToString());
                if (_peers.TryAdd(peer, []))
                    StartPeer(peer);
            }
            _discovering.Track(DiscoverAsync(name, _stoppingToken.Token));
        }
    }

    private void StartPeer(PeerId peer)
    {
        if (_host.GetConnection(peer) is { } connection)
            OnPeerConnected(connection);
        else
            _redialer?.Start(peer, TimeSpan.Zero);
    }

    private bool AddAddress(PeerId peer, Multiaddr address)
    {
        bool added = false;
        _peers.AddOrUpdate(peer, _ => { added = true; return [address]; },
            (_, known) => known.Contains(address) ? known : [.. known, address]);
        return added;
    }

    /// <summary>
    /// Resolves a bare <c>/dnsaddr</c> name into the peers its records end in and starts dialing
    /// them; tried again with the redial back-off until it names at least one.
    /// </summary>
    private async Task DiscoverAsync(Multiaddr name, CancellationToken cancellationToken)
    {
        await Task.Yield();
        int failures = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                int found = 0;
                try
                {
                    foreach (Multiaddr address in await _resolver.ResolveAsync(name, cancellationToken).ConfigureAwait(false))
                    {
                        if (address.PeerId is not { } peer || peer == _host.PeerId)
                            continue;   // a record without /p2p names no peer to trust
                        found++;
                        _namedBy.TryAdd(peer, name.ToString());
                        if (AddAddress(peer, address) || _host.GetConnection(peer) is null)
                            StartPeer(peer);
                    }
                    if (found == 0)
                        Log.NameNotResolved(_logger, name.ToString(), "its records name no peer Echo can dial");
                }
                catch (DnsLookupException e)
                {
                    Log.NameNotResolved(_logger, name.ToString(), e.Message);
                }
                if (found > 0)
                    return;
                await Task.Delay(_options.Redial.Delay(failures++, Random.Shared.NextDouble()), _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One attempt at a peer: its addresses resolved now, then those that reached it before, each until one answers.</summary>
    private async Task DialAsync(PeerId peer, CancellationToken cancellationToken)
    {
        List<Multiaddr> candidates = [];
        string? resolveFailure = null;
        Multiaddr[] configured = _peers.GetValueOrDefault(peer) ?? [];
        foreach (Multiaddr address in configured)
        {
            try
            {
                foreach (Multiaddr resolved in await _resolver.ResolveAsync(address, cancellationToken).ConfigureAwait(false))
                    Add(resolved.WithoutPeerId());
            }
            catch (DnsLookupException e)
            {
                resolveFailure ??= e.Message;
                Log.NotResolved(_logger, peer, e.Message);
            }
        }
        foreach (Multiaddr remembered in _cache.Addresses(peer))
            Add(remembered);
        if (candidates.Count == 0)
        {
            throw new DialFailedException(configured.FirstOrDefault() ?? Multiaddr.Empty.WithPeerId(peer),
                resolveFailure ?? "its addresses resolve to no TCP address (only TCP over IPv4, IPv6 or DNS names is dialed)");
        }
        string reason = "no address answered";
        foreach (Multiaddr candidate in candidates)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                await _host.DialAsync(candidate.WithPeerId(peer), cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (DialFailedException e)
            {
                reason = $"{candidate}: {e.Reason}";
            }
        }
        throw new DialFailedException(configured.FirstOrDefault() ?? Multiaddr.Empty.WithPeerId(peer), reason);

        void Add(Multiaddr address)
        {
            if (candidates.Count < _options.MaxAddressesPerDial && !candidates.Contains(address) && !_host.IsOwnAddress(address))
                candidates.Add(address);
        }
    }

    private void OnPeerConnected(Connection connection)
    {
        PeerId peer = connection.RemotePeer;
        if (_stopping || !_peers.ContainsKey(peer))
            return;
        _redialer?.Stop(peer);
        Log.Connected(_logger, peer, ConnectedCount, _peers.Count);
        if (connection.Direction == ConnectionDirection.Outbound)
        {
            _cache.Reached(peer, connection.RemoteAddress, _time.GetUtcNow(), _namedBy.GetValueOrDefault(peer));
            ScheduleSave();
        }
    }

    private void OnPeerDisconnected(Connection connection)
    {
        PeerId peer = connection.RemotePeer;
        if (_stopping || !_peers.ContainsKey(peer) || _host.GetConnection(peer) is not null)
            return;
        int connected = ConnectedCount;
        Log.Disconnected(_logger, peer, connected, _peers.Count);
        if (connected < _options.MinConnected)
            _redialer?.Start(peer);
    }

    /// <summary>Writes the cache soon; saves asked for while one runs are written together after it.</summary>
    private void ScheduleSave()
    {
        lock (_gate)
        {
            _saveRequested = true;
            if (_saveRunning || _stopping)
                return;
            _saveRunning = true;
        }
        _saves.Track(SaveLoopAsync());
    }

    private async Task SaveLoopAsync()
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
            await SaveAsync().ConfigureAwait(false);
        }
    }

    private async Task SaveAsync()
    {
        try
        {
            await _cache.SaveAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            Log.CacheProblem(_logger, "cannot save: " + e.Message);
        }
    }

    /// <summary>Stops dialing, waits (bounded) for saves under way, and writes the cache a last time.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        lock (_gate)
            _stopping = true;
        _host.PeerConnected -= OnPeerConnected;
        _host.PeerDisconnected -= OnPeerDisconnected;
        await _stoppingToken.CancelAsync().ConfigureAwait(false);
        await _discovering.DrainAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        if (_redialer is not null)
            await _redialer.DisposeAsync().ConfigureAwait(false);
        await _saves.DrainAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        if (_started != 0)
            await SaveAsync().ConfigureAwait(false);
        _stoppingToken.Dispose();
    }
}
