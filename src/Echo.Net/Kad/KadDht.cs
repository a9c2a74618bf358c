using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using Echo.Net.AutoNat;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Threading;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Kad;

/// <summary>
/// The Kademlia DHT on <c>/ipfs/kad/1.0.0</c> (libp2p/specs <c>kad-dht/README.md</c>), as spoken by
/// kubo, go, js and rust nodes: a routing table of DHT servers (peers whose identify lists the
/// protocol), iterative lookups (FIND_NODE, GET_PROVIDERS), provide (ADD_PROVIDER to the k closest,
/// no reply awaited), and in server mode the answers to FIND_NODE, GET_PROVIDERS, ADD_PROVIDER and
/// GET_VALUE (values are never stored; the answer holds closer peers only).
/// </summary>
/// <remarks>
/// Client mode registers no handler, so identify never announces the protocol and no routing table
/// holds this node; server mode registers it (identify push tells the connected peers). The mode
/// follows AutoNAT (server only while confirmed public) unless <see cref="KadOptions.ForcedMode"/>.
/// The table is refreshed on the first DHT peer, every <see cref="KadOptions.RefreshInterval"/> and
/// when it runs low; the servers that answered are kept in <see cref="KadOptions.PeerCachePath"/> and
/// dialed when a start finds no DHT peer within <see cref="KadOptions.PeerCacheDelay"/>.
/// </remarks>
public sealed class KadDht : IAsyncDisposable
{
    /// <summary>The Amino DHT's protocol id.</summary>
    public const string ProtocolId = "/ipfs/kad/1.0.0";

    /// <summary>Lookups kept in <see cref="RecentLookups"/>.</summary>
    public const int MaxRecentLookups = 32;

    /// <summary>Addresses put into our own provider records at most.</summary>
    public const int MaxOwnAddresses = 16;

    /// <summary>Buckets refreshed at most (go's 15: deeper ones need ever longer searches for a random key).</summary>
    private const int MaxRefreshBucket = 15;

    private readonly Libp2pHost _host;
    private readonly KadOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly KadRoutingTable _table;
    private readonly KadProviderStore _providers;
    private readonly IReachabilitySource? _reachability;
    private readonly BackgroundTasks _background = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Lock _gate = new();
    private readonly Queue<KadLookupStats> _recent = new();
    private readonly SemaphoreSlim _saving = new(1, 1);
    private readonly ConcurrentDictionary<PeerId, int> _dialing = new();
    private KadMode _mode = KadMode.Client;
    private long _providerRecordsRefused;
    private long _requestsServed;
    private long _requestsSent;
    private int _refreshes;
    private DateTimeOffset? _refreshWaitUntil;
    private int _started;
    private int _disposed;

    /// <summary>Creates the DHT on <paramref name="host"/>; call <see cref="Start"/> after the host started.</summary>
    /// <param name="host">The host whose connections and identify the DHT uses.</param>
    /// <param name="options">Settings; <see cref="KadOptions.ForcedMode"/> fixes the mode.</param>
    /// <param name="loggerFactory">Logging.</param>
    /// <param name="time">The clock of the refresh loop and the provider records (the system's when null).</param>
    /// <param name="reachability">What the mode follows unless forced: server while it says public, client otherwise
    /// (null: the host's AutoNAT; none at all: client).</param>
    public KadDht(Libp2pHost host, KadOptions options, ILoggerFactory loggerFactory, TimeProvider? time = null,
        IReachabilitySource? reachability = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        options.Validate();
        _host = host;
        _options = options;
        _logger = loggerFactory.CreateLogger<KadDht>();
        _time = time ?? TimeProvider.System;
        _table = new KadRoutingTable(host.PeerId, options.BucketSize, _time);
        _providers = new KadProviderStore(host.Resources.ProviderRecords, options, _time);
        _reachability = reachability ?? host.AutoNat;
    }

    /// <summary>Client or server now.</summary>
    public KadMode Mode
    {
        get
        {
            lock (_gate)
                return _mode;
        }
    }

    /// <summary>Raised with the new mode when it changes.</summary>
    public event Action<KadMode>? ModeChanged;

    /// <summary>DHT servers in the routing table.</summary>
    public int RoutingTableSize => _table.Count;

    /// <summary>The last lookups (at most <see cref="MaxRecentLookups"/>), newest last.</summary>
    public IReadOnlyList<KadLookupStats> RecentLookups
    {
        get
        {
            lock (_gate)
                return [.. _recent];
        }
    }

    /// <summary>Provider records held (server mode).</summary>
    public int ProviderRecordCount => _providers.Count;

    /// <summary>ADD_PROVIDER records refused: for another peer, without an address, or past a limit.</summary>
    public long ProviderRecordsRefused => Interlocked.Read(ref _providerRecordsRefused);

    /// <summary>Requests answered (server mode).</summary>
    public long RequestsServed => Interlocked.Read(ref _requestsServed);

    /// <summary>
    /// Requests sent to other peers since start (lookups, refreshes, ADD_PROVIDER), each one stream to
    /// one peer, counted when attempted (a dial that fails counts too).
    /// </summary>
    public long RequestsSent => Interlocked.Read(ref _requestsSent);

    /// <summary>
    /// Whether the DHT is dialing <paramref name="peer"/> now (for a request or from the peer cache),
    /// so whoever sees the connection open can tell it is no chat peer the user asked for.
    /// </summary>
    public bool IsDialing(PeerId peer) => _dialing.ContainsKey(peer);

    /// <summary>Table refreshes started by the refresh loop (for tests).</summary>
    internal int RefreshCount => Volatile.Read(ref _refreshes);

    /// <summary>When the refresh loop's current wait ends, on the DHT's clock; null while it refreshes or waits for a first DHT peer (for tests).</summary>
    internal DateTimeOffset? RefreshWaitUntil
    {
        get
        {
            lock (_gate)
                return _refreshWaitUntil;
        }
    }

    /// <summary>The peers in the routing table, most recently seen first (for diagnostics and tests).</summary>
    public IReadOnlyList<KadPeer> RoutingTablePeers => _table.Snapshot();

    /// <summary>The multihash of sha2-256 over <paramref name="data"/>: <c>0x12 0x20</c> and the 32-byte digest.</summary>
    public static byte[] Sha256Multihash(ReadOnlySpan<byte> data)
    {
        byte[] result = new byte[34];
        result[0] = 0x12;
        result[1] = 0x20;
        SHA256.HashData(data, result.AsSpan(2));
        return result;
    }

    /// <summary>
    /// Starts: takes DHT servers from identify into the routing table, applies the mode (forced, or
    /// following <see cref="Libp2pHost.AutoNat"/>), and runs the refresh loop. Call once, after the host started.
    /// </summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("the DHT is already started");
        _host.PeerIdentified += OnPeerIdentified;
        foreach (Connection connection in _host.Connections)
        {
            if (_host.PeerStore.Get(connection.RemotePeer) is { } info)
                OnPeerIdentified(connection, info);
        }
        if (_options.ForcedMode is { } forced)
            SetMode(forced);
        else if (_reachability is not null)
        {
            _reachability.ReachabilityChanged += OnReachabilityChanged;
            FollowReachability();
        }
        List<KadPeer> cached = [];
        if (_options.PeerCachePath is { } path)
        {
            cached = KadPeerCache.Load(path, _options.MaxCachedPeers, out string? problem);
            if (problem is not null)
                Log.CacheProblem(_logger, problem);
        }
        _background.Track(RefreshLoopAsync(cached, _stopping.Token));
    }

    private void OnReachabilityChanged(ReachabilityReport report) => FollowReachability();

    /// <summary>
    /// Server while the reachability says public, client while it says private or unknown. Reads the
    /// source's current report, under the mode's lock, rather than the event's, so a change raised while
    /// <see cref="Start"/> subscribes cannot leave the older verdict in force.
    /// </summary>
    private void FollowReachability() => SetMode(() => _reachability!.Reachability.IsPublic ? KadMode.Server : KadMode.Client);

    private void SetMode(KadMode mode) => SetMode(() => mode);

    private void SetMode(Func<KadMode> choose)
    {
        KadMode mode;
        lock (_gate)
        {
            mode = choose();
            if (_disposed != 0 || _mode == mode)
                return;
            _mode = mode;
            if (mode == KadMode.Server)
                _host.SetStreamHandler(ProtocolId, HandleStreamAsync, _options.MaxInboundStreamsPerPeer);
            else
                _host.RemoveStreamHandler(ProtocolId);
        }
        Log.ModeChanged(_logger, mode);
        try
        {
            ModeChanged?.Invoke(mode);
        }
        catch (Exception e)
        {
            Log.HandlerFailed(_logger, e);
        }
    }

    private void OnPeerIdentified(Connection connection, IdentifyInfo info)
    {
        if (connection.IsLimited || info.Peer == _host.PeerId)
            return;
        if (info.Supports(ProtocolId))
        {
            bool wasEmpty = _table.Count == 0;
            if (_table.AddOrSeen(info.Peer, Usable(info.ListenAddresses), IsStale) && (wasEmpty || _table.Count < _options.LowWaterMark))
                _wake.Writer.TryWrite(true);
        }
        else if (_table.Remove(info.Peer) && _table.Count < _options.LowWaterMark)
            _wake.Writer.TryWrite(true);
    }

    /// <summary>A table entry may make room for a newcomer when we have no connection to it now.</summary>
    private bool IsStale(PeerId peer) => _host.GetConnection(peer) is null;

    private List<Multiaddr> Usable(IEnumerable<Multiaddr> addresses) =>
        [.. addresses.Select(a => a.WithoutPeerId())
            .Where(a => DnsAddr.DnsAddrResolver.IsDialable(a) && (_options.AddressFilter is null || _options.AddressFilter(a)))
            .Distinct()
            .Take(KadLimits.MaxAddressesPerPeer)];

    // ---- the refresh loop ----

    private async Task RefreshLoopAsync(List<KadPeer> cached, CancellationToken cancellationToken)
    {
        await Task.Yield();
        long? lastRefresh = null;
        bool cacheTried = cached.Count == 0;
        long started = _time.GetTimestamp();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (!cacheTried && (_table.Count > 0 || _time.GetElapsedTime(started) >= _options.PeerCacheDelay))
                {
                    // Needed only when no DHT peer came (from the bootstrap peers) in time.
                    cacheTried = true;
                    if (_table.Count == 0)
                        await DialCachedAsync(cached, cancellationToken).ConfigureAwait(false);
                }
                TimeSpan? sinceRefresh = lastRefresh is { } at ? _time.GetElapsedTime(at) : null;
                bool due = _table.Count > 0 && (sinceRefresh is null || sinceRefresh >= _options.RefreshInterval
                    || (_table.Count < _options.LowWaterMark && sinceRefresh >= _options.MinRefreshGap));
                if (due)
                {
                    lastRefresh = _time.GetTimestamp();
                    Interlocked.Increment(ref _refreshes);
                    try
                    {
                        int size = await BootstrapAsync(cancellationToken).ConfigureAwait(false);
                        Log.Refreshed(_logger, size);
                        _providers.Sweep();
                        await SaveCacheAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        Log.RefreshFailed(_logger, e);
                    }
                    continue;
                }
                TimeSpan wait;
                if (!cacheTried)
                    wait = _options.PeerCacheDelay - _time.GetElapsedTime(started);
                else if (sinceRefresh is null)
                    wait = Timeout.InfiniteTimeSpan;    // until the first DHT peer
                else
                {
                    wait = _options.RefreshInterval - sinceRefresh.Value;
                    if (_table.Count < _options.LowWaterMark)
                        wait = TimeSpan.FromTicks(Math.Min(wait.Ticks, (_options.MinRefreshGap - sinceRefresh.Value).Ticks));
                }
                await WaitAsync(wait, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Waits <paramref name="wait"/> (infinite: until woken) or until something wakes the loop.</summary>
    private async Task WaitAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        using CancellationTokenSource timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (wait != Timeout.InfiniteTimeSpan)
        {
            if (wait <= TimeSpan.Zero)
                return;
            Task delay = Task.Delay(wait, _time, timer.Token);
            Task woken = _wake.Reader.WaitToReadAsync(timer.Token).AsTask();
            lock (_gate)
                _refreshWaitUntil = _time.GetUtcNow() + wait;
            try
            {
                await Task.WhenAny(delay, woken).ConfigureAwait(false);
            }
            finally
            {
                lock (_gate)
                    _refreshWaitUntil = null;
            }
            await timer.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(delay, woken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        else
            await _wake.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        _wake.Reader.TryRead(out _);
    }

    /// <summary>Dials the remembered DHT servers, α at a time, so identify puts them in the table.</summary>
    private async Task DialCachedAsync(List<KadPeer> cached, CancellationToken cancellationToken)
    {
        List<KadPeer> candidates = [.. cached.Where(p => p.Id != _host.PeerId && _host.GetConnection(p.Id) is null)];
        if (candidates.Count == 0)
            return;
        Log.DialingCachedPeers(_logger, candidates.Count);
        await Parallel.ForEachAsync(candidates, new ParallelOptions { MaxDegreeOfParallelism = _options.Alpha, CancellationToken = cancellationToken },
            async (peer, ct) =>
            {
                try
                {
                    await ConnectAsync(peer, ct).ConfigureAwait(false);
                }
                catch (Exception e) when (KadCodec.IsPeerFailure(e) || e is OperationCanceledException && !ct.IsCancellationRequested)
                {
                    Log.RequestFailed(_logger, peer.Id, e.Message);
                }
            }).ConfigureAwait(false);
    }

    private async Task SaveCacheAsync(CancellationToken cancellationToken)
    {
        if (_options.PeerCachePath is not { } path)
            return;
        await _saving.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await KadPeerCache.SaveAsync(path, _table.Snapshot(), _options.MaxCachedPeers, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            Log.CacheProblem(_logger, $"cannot write {path}: {e.Message}");
        }
        finally
        {
            _saving.Release();
        }
    }

    // ---- lookups ----

    /// <summary>
    /// Refreshes the routing table: a lookup of our own id, then one of a random key in each non-empty
    /// bucket (up to bucket 15). Returns the table's size after.
    /// </summary>
    public async Task<int> BootstrapAsync(CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        await LookupClosestAsync(_host.PeerId.ToBytes(), KadLookupKind.Bootstrap, ct).ConfigureAwait(false);
        foreach (int bucket in _table.NonEmptyBuckets().Where(b => b <= MaxRefreshBucket))
            await LookupClosestAsync(RandomKeyInBucket(bucket), KadLookupKind.Bootstrap, ct).ConfigureAwait(false);
        return _table.Count;
    }

    /// <summary>A random key (a sha2-256 multihash, like a peer id) whose point lies in <paramref name="bucket"/>.</summary>
    private byte[] RandomKeyInBucket(int bucket)
    {
        byte[] key = new byte[34];
        key[0] = 0x12;
        key[1] = 0x20;
        // 2^(bucket+1) tries on average; bucket <= 15 keeps it under a few milliseconds.
        while (true)
        {
            RandomNumberGenerator.Fill(key.AsSpan(2));
            if (_table.SelfKey.CommonPrefixLength(KadKey.Of(key)) == bucket)
                return key;
        }
    }

    /// <summary>The k DHT servers closest to <paramref name="key"/> that answered an iterative FIND_NODE lookup.</summary>
    /// <exception cref="ArgumentException">The key is empty or longer than <see cref="KadLimits.MaxKeyBytes"/>.</exception>
    public Task<IReadOnlyList<KadPeer>> GetClosestPeersAsync(ReadOnlyMemory<byte> key, CancellationToken ct)
    {
        if (key.Length == 0 || key.Length > KadLimits.MaxKeyBytes)
            throw new ArgumentException($"a key is 1 to {KadLimits.MaxKeyBytes} bytes", nameof(key));
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return LookupClosestAsync(key.ToArray(), KadLookupKind.ClosestPeers, ct);
    }

    private async Task<IReadOnlyList<KadPeer>> LookupClosestAsync(byte[] key, KadLookupKind kind, CancellationToken ct)
    {
        Pb.Message request = new() { Type = Pb.Message.Types.MessageType.FindNode, Key = ByteString.CopyFrom(key) };
        KadKey target = KadKey.Of(key);
        DateTimeOffset started = _time.GetUtcNow();
        long start = _time.GetTimestamp();
        KadQuery query = NewQuery(target, request, followUp: true);
        List<KadPeer> closest = await query.RunAsync(ct).ConfigureAwait(false);
        Record(new KadLookupStats(kind, started, _time.GetElapsedTime(start), query.MessagesSent, query.PeersQueried, closest.Count));
        return closest;
    }

    private KadQuery NewQuery(KadKey target, Pb.Message request, Func<KadPeer, Pb.Message, bool>? onAnswer = null, bool followUp = false) =>
        new(target, _host.PeerId, _table.Closest(target, _options.BucketSize), _options, (peer, ct) => RequestAsync(peer, request, ct))
        {
            FollowUp = followUp,
            OnAnswer = onAnswer,
            OnSuccess = peer => _table.AddOrSeen(peer.Id, peer.Addresses.Count > 0 ? peer.Addresses : _table.AddressesOf(peer.Id), IsStale),
            OnFailure = (peer, e) =>
            {
                Log.RequestFailed(_logger, peer.Id, e.Message);
                if (_table.Remove(peer.Id) && _table.Count < _options.LowWaterMark)
                    _wake.Writer.TryWrite(true);
            },
        };

    private void Record(KadLookupStats stats)
    {
        Log.LookupDone(_logger, stats.Kind, stats.Found, stats.MessagesSent, stats.PeersQueried, (long)stats.Duration.TotalMilliseconds);
        lock (_gate)
        {
            _recent.Enqueue(stats);
            while (_recent.Count > MaxRecentLookups)
                _recent.Dequeue();
        }
    }

    /// <summary>
    /// The providers of <paramref name="key"/> (a multihash): those stored here (server mode), then those
    /// an iterative GET_PROVIDERS lookup finds, each once, until <paramref name="maxCount"/> were found
    /// or the lookup ends. A provider is yielded when first seen with an address; those only ever seen
    /// without one come at the end.
    /// </summary>
    /// <exception cref="ArgumentException">The key is not a multihash of at most <see cref="KadLimits.MaxKeyBytes"/> bytes.</exception>
    public async IAsyncEnumerable<KadPeer> FindProvidersAsync(ReadOnlyMemory<byte> key, int maxCount,
        [EnumeratorCancellation] CancellationToken ct)
    {
        if (!KadKey.IsMultihash(key.Span, out string? error))
            throw new ArgumentException(error, nameof(key));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        byte[] keyBytes = key.ToArray();
        Channel<KadPeer> found = Channel.CreateUnbounded<KadPeer>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using CancellationTokenSource lookup = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task run = FindProvidersCoreAsync(keyBytes, maxCount, found.Writer, lookup.Token);
        try
        {
            await foreach (KadPeer provider in found.Reader.ReadAllAsync(ct).ConfigureAwait(false))
                yield return provider;
        }
        finally
        {
            await lookup.CancelAsync().ConfigureAwait(false);
            await run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        await run.ConfigureAwait(false);
    }

    private async Task FindProvidersCoreAsync(byte[] key, int maxCount, ChannelWriter<KadPeer> found, CancellationToken ct)
    {
        Dictionary<PeerId, KadPeer> withoutAddress = [];
        HashSet<PeerId> yielded = [];
        bool Offer(KadPeer provider)
        {
            if (provider.Id == _host.PeerId || yielded.Contains(provider.Id))
                return yielded.Count >= maxCount;
            if (provider.Addresses.Count == 0)
            {
                withoutAddress.TryAdd(provider.Id, provider);
                return false;
            }
            withoutAddress.Remove(provider.Id);
            yielded.Add(provider.Id);
            found.TryWrite(provider);
            return yielded.Count >= maxCount;
        }

        Exception? failure = null;
        DateTimeOffset started = _time.GetUtcNow();
        long start = _time.GetTimestamp();
        KadQuery? query = null;
        try
        {
            bool enough = false;
            foreach (KadPeer local in _providers.Get(key))
                enough |= Offer(local);
            if (!enough)
            {
                Pb.Message request = new() { Type = Pb.Message.Types.MessageType.GetProviders, Key = ByteString.CopyFrom(key) };
                query = NewQuery(KadKey.Of(key), request, (_, answer) =>
                {
                    bool done = false;
                    foreach (Pb.Message.Types.Peer raw in answer.ProviderPeers)
                    {
                        if (KadCodec.ToPeer(raw, _options.AddressFilter, allowCircuits: true) is { } provider)
                            done |= Offer(provider);
                        if (done)
                            break;
                    }
                    return done;
                });
                await query.RunAsync(ct).ConfigureAwait(false);
            }
            foreach (KadPeer provider in withoutAddress.Values.Take(maxCount - yielded.Count))
            {
                yielded.Add(provider.Id);
                found.TryWrite(provider);
            }
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            if (query is not null)
                Record(new KadLookupStats(KadLookupKind.Providers, started, _time.GetElapsedTime(start), query.MessagesSent, query.PeersQueried,
                    yielded.Count));
            found.TryComplete(failure is OperationCanceledException ? null : failure);
        }
    }

    /// <summary>
    /// Announces that we provide <paramref name="key"/> (a multihash): finds the k closest DHT servers
    /// and sends each an ADD_PROVIDER with our peer id and addresses, without waiting for a reply (there
    /// is none); in server mode the record is stored here too. Returns how many servers it was sent to.
    /// </summary>
    /// <exception cref="ArgumentException">The key is not a multihash of at most <see cref="KadLimits.MaxKeyBytes"/> bytes.</exception>
    /// <exception cref="InvalidOperationException">We have no address to put in the record.</exception>
    public async Task<int> ProvideAsync(ReadOnlyMemory<byte> key, CancellationToken ct)
    {
        if (!KadKey.IsMultihash(key.Span, out string? error))
            throw new ArgumentException(error, nameof(key));
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        IReadOnlyList<Multiaddr> own = OwnAddresses();
        if (own.Count == 0)
            throw new InvalidOperationException("no address to announce in a provider record");
        byte[] keyBytes = key.ToArray();
        if (Mode == KadMode.Server)
            _providers.Add(keyBytes, _host.PeerId, own);
        IReadOnlyList<KadPeer> closest = await LookupClosestAsync(keyBytes, KadLookupKind.ClosestPeers, ct).ConfigureAwait(false);
        Pb.Message message = new() { Type = Pb.Message.Types.MessageType.AddProvider, Key = ByteString.CopyFrom(keyBytes) };
        message.ProviderPeers.Add(KadCodec.FromPeer(new KadPeer(_host.PeerId, own), connected: true));
        int sent = 0;
        await Parallel.ForEachAsync(closest, new ParallelOptions { MaxDegreeOfParallelism = _options.Alpha, CancellationToken = ct },
            async (peer, token) =>
            {
                if (await SendAsync(peer, message, token).ConfigureAwait(false))
                    Interlocked.Increment(ref sent);
            }).ConfigureAwait(false);
        return sent;
    }

    /// <summary>Our addresses for provider records: those the filter keeps first, then the rest; at most <see cref="MaxOwnAddresses"/>.</summary>
    private List<Multiaddr> OwnAddresses()
    {
        List<Multiaddr> all = [.. _host.AdvertisedAddresses.Select(a => a.WithoutPeerId()).Where(a => KadCodec.IsUsableAddress(a, allowCircuits: true)).Distinct()];
        IEnumerable<Multiaddr> preferred = _options.AddressFilter is { } filter ? all.Where(filter) : all;
        return [.. preferred.Concat(all).Distinct().Take(MaxOwnAddresses)];
    }

    // ---- RPCs ----

    /// <summary>Returns the connection to <paramref name="peer"/>, dialing its addresses in turn when there is none.</summary>
    private async Task<Connection> ConnectAsync(KadPeer peer, CancellationToken ct)
    {
        if (_host.GetConnection(peer.Id) is { } existing)
            return existing;
        IReadOnlyList<Multiaddr> addresses = peer.Addresses.Count > 0 ? peer.Addresses : _table.AddressesOf(peer.Id);
        if (addresses.Count == 0)
            addresses = Usable(_host.PeerStore.AddressesOf(peer.Id));
        if (addresses.Count == 0)
            throw new DialFailedException(Multiaddr.Empty.WithPeerId(peer.Id), "no address known");
        DialFailedException? last = null;
        _dialing.AddOrUpdate(peer.Id, 1, (_, n) => n + 1);
        try
        {
            foreach (Multiaddr address in addresses.Take(4))
            {
                try
                {
                    return await _host.DialAsync(address.WithoutPeerId().WithPeerId(peer.Id), ct).ConfigureAwait(false);
                }
                catch (DialFailedException e)
                {
                    last = e;
                }
            }
            throw last!;
        }
        finally
        {
            if (_dialing.AddOrUpdate(peer.Id, 0, (_, n) => n - 1) <= 0)
                _dialing.TryRemove(peer.Id, out _);
        }
    }

    /// <summary>One request and its answer on a new stream, dial included, bounded by <see cref="KadOptions.RpcTimeout"/>.</summary>
    /// <exception cref="TimeoutException">No answer in time.</exception>
    internal async Task<Pb.Message> RequestAsync(KadPeer peer, Pb.Message request, CancellationToken ct)
    {
        Interlocked.Increment(ref _requestsSent);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopping.Token);
        timeout.CancelAfter(_options.RpcTimeout);
        try
        {
            Connection connection = await ConnectAsync(peer, timeout.Token).ConfigureAwait(false);
            P2PStream stream = await connection.OpenStreamAsync(ProtocolId, timeout.Token).ConfigureAwait(false);
            try
            {
                await KadCodec.WriteAsync(stream.Output, request, timeout.Token).ConfigureAwait(false);
                Pb.Message response = await KadCodec.ReadAsync(stream.Input, _options.MaxMessageBytes, timeout.Token).ConfigureAwait(false)
                    ?? throw new ProtocolViolationException(ProtocolId, "the stream ended without an answer");
                await stream.CompleteOutputAsync().ConfigureAwait(false);
                await stream.Input.CompleteAsync().ConfigureAwait(false);
                if (response.Type != request.Type)
                    throw new ProtocolViolationException(ProtocolId, $"asked {request.Type}, answered {response.Type}");
                return response;
            }
            catch
            {
                stream.Reset();
                throw;
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && !_stopping.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer from {peer.Id} within {_options.RpcTimeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Sends a message that has no answer (ADD_PROVIDER) on a new stream; true when it was written.</summary>
    private async Task<bool> SendAsync(KadPeer peer, Pb.Message message, CancellationToken ct)
    {
        Interlocked.Increment(ref _requestsSent);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopping.Token);
        timeout.CancelAfter(_options.RpcTimeout);
        try
        {
            Connection connection = await ConnectAsync(peer, timeout.Token).ConfigureAwait(false);
            P2PStream stream = await connection.OpenStreamAsync(ProtocolId, timeout.Token).ConfigureAwait(false);
            try
            {
                await KadCodec.WriteAsync(stream.Output, message, timeout.Token).ConfigureAwait(false);
                await stream.CompleteOutputAsync().ConfigureAwait(false);
                await stream.Input.CompleteAsync().ConfigureAwait(false);
                return true;
            }
            catch
            {
                stream.Reset();
                throw;
            }
        }
        catch (Exception e) when (KadCodec.IsPeerFailure(e) || e is OperationCanceledException && !ct.IsCancellationRequested)
        {
            Log.RequestFailed(_logger, peer.Id, e.Message);
            return false;
        }
    }

    // ---- server ----

    /// <summary>
    /// Serves one inbound stream: up to <see cref="KadOptions.MaxRequestsPerStream"/> requests, each answered
    /// in turn; a request that arrives after the mode turned client resets the stream.
    /// </summary>
    private async Task HandleStreamAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        for (int served = 0; served < _options.MaxRequestsPerStream; served++)
        {
            Pb.Message? request;
            using (CancellationTokenSource idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                idle.CancelAfter(_options.StreamIdleTimeout);
                try
                {
                    request = await KadCodec.ReadAsync(stream.Input, _options.MaxMessageBytes, idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    break;  // idle: close our side
                }
            }
            if (request is null)
                break;
            if (Mode != KadMode.Server)
            {
                stream.Reset();     // turned client while the stream was open: a client serves nothing
                return;
            }
            Pb.Message? response = Answer(stream.RemotePeer, request);
            Interlocked.Increment(ref _requestsServed);
            if (response is not null)
                await KadCodec.WriteAsync(stream.Output, response, cancellationToken).ConfigureAwait(false);
        }
        await stream.CompleteOutputAsync().ConfigureAwait(false);
    }

    /// <summary>The answer to <paramref name="request"/> from <paramref name="sender"/>; null for ADD_PROVIDER (no answer).</summary>
    /// <exception cref="ProtocolViolationException">A bad key or an unsupported type: the stream is reset.</exception>
    internal Pb.Message? Answer(PeerId sender, Pb.Message request)
    {
        ReadOnlySpan<byte> key = request.Key.Span;
        switch (request.Type)
        {
            case Pb.Message.Types.MessageType.FindNode:
            case Pb.Message.Types.MessageType.GetValue:
                if (key.Length == 0 || key.Length > KadLimits.MaxKeyBytes)
                    throw new ProtocolViolationException(ProtocolId, $"a key is 1 to {KadLimits.MaxKeyBytes} bytes, not {key.Length}");
                return WithCloserPeers(new Pb.Message { Type = request.Type, Key = request.Key }, sender, key);
            case Pb.Message.Types.MessageType.GetProviders:
            {
                if (!KadKey.IsMultihash(key, out string? error))
                    throw new ProtocolViolationException(ProtocolId, error!);
                Pb.Message response = new() { Type = request.Type, Key = request.Key };
                foreach (KadPeer provider in _providers.Get(key))
                    response.ProviderPeers.Add(KadCodec.FromPeer(provider, _host.GetConnection(provider.Id) is not null));
                return WithCloserPeers(response, sender, key);
            }
            case Pb.Message.Types.MessageType.AddProvider:
            {
                if (!KadKey.IsMultihash(key, out string? error))
                    throw new ProtocolViolationException(ProtocolId, error!);
                foreach (Pb.Message.Types.Peer raw in request.ProviderPeers.Take(KadLimits.MaxProviderPeers))
                    AddProvider(sender, key, raw);
                return null;
            }
            default:
                throw new ProtocolViolationException(ProtocolId, $"{request.Type} is not served here");
        }
    }

    private void AddProvider(PeerId sender, ReadOnlySpan<byte> key, Pb.Message.Types.Peer raw)
    {
        string? refusal;
        if (KadCodec.ToPeer(raw, null, allowCircuits: true) is not { } provider)
            refusal = "the provider id does not parse";
        else if (provider.Id != sender)
            refusal = $"a record for another peer ({provider.Id})";
        else if (provider.Addresses.Count == 0)
            refusal = "no usable address";
        else
        {
            ProviderAddResult result = _providers.Add(key, sender, provider.Addresses);
            refusal = result switch
            {
                ProviderAddResult.RefusedPeerLimit => $"the peer has {_host.Options.Limits.MaxProviderRecordsPerPeer} records",
                ProviderAddResult.RefusedTotalLimit => $"{_host.Options.Limits.MaxProviderRecords} records are stored",
                ProviderAddResult.RefusedKeyFull => $"the key has {_host.Options.Limits.MaxProvidersPerKey} providers",
                _ => null,
            };
        }
        if (refusal is null)
            return;
        Interlocked.Increment(ref _providerRecordsRefused);
        Log.ProviderRefused(_logger, sender, refusal);
    }

    private Pb.Message WithCloserPeers(Pb.Message response, PeerId sender, ReadOnlySpan<byte> key)
    {
        foreach (KadPeer peer in _table.Closest(KadKey.Of(key), _options.BucketSize, exclude: sender))
            response.CloserPeers.Add(KadCodec.FromPeer(peer, _host.GetConnection(peer.Id) is not null));
        return response;
    }

    /// <summary>Stops the refresh loop, withdraws the protocol, and keeps the peers that answered for the next start.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _host.PeerIdentified -= OnPeerIdentified;
        if (_reachability is not null)
            _reachability.ReachabilityChanged -= OnReachabilityChanged;
        try
        {
            lock (_gate)
            {
                if (_mode == KadMode.Server)
                    _host.RemoveStreamHandler(ProtocolId);
            }
        }
        catch (ObjectDisposedException)
        {
            // The host went first: nothing to withdraw.
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _background.DrainAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        if (_started != 0 && _table.Count > 0)
        {
            using CancellationTokenSource bound = new(TimeSpan.FromSeconds(5));
            try
            {
                await SaveCacheAsync(bound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _providers.Clear();
        _stopping.Dispose();
        _saving.Dispose();
    }
}
