using System.Threading.Channels;
using Echo.Core;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols.Discovery;

/// <summary>What room discovery needs of the node: who is connected, how full a room is, and a way to dial.</summary>
internal interface IDiscoveryHost
{
    /// <summary>Whether we have a connection to <paramref name="peer"/>.</summary>
    bool IsConnected(PeerId peer);

    /// <summary>How many peers are in <paramref name="room"/>'s topic now.</summary>
    int RoomPeers(string room);

    /// <summary>Dials a provider through the node's dial path (so the connection is used for chat); throws when it fails.</summary>
    Task DialAsync(ProviderRecord provider, CancellationToken cancellationToken);

    /// <summary>Something /dht shows changed (a provide or a lookup ended).</summary>
    void StatusChanged();
}

/// <summary>
/// Rooms found through the DHT. For every joined room: provide its key
/// (<see cref="DiscoveryKeys.Room"/>), look up its providers and dial those we are not connected to;
/// provide again every <see cref="RoomDiscoveryOptions.RepublishInterval"/> and soon after our
/// addresses change; look up again every <see cref="RoomDiscoveryOptions.EagerLookupInterval"/>
/// until the room has enough peers, then every <see cref="RoomDiscoveryOptions.SettledLookupInterval"/>.
/// Our presence key (<see cref="DiscoveryKeys.Peer"/>) is provided the same way, so a peer that has
/// our id but no address can find us (<see cref="FindPeerAsync"/>). Leaving a room stops its loop.
/// </summary>
internal sealed class RoomDiscovery : IAsyncDisposable
{
    private readonly IProviderRouting _routing;
    private readonly PeerId _self;
    private readonly IDiscoveryHost _host;
    private readonly RoomDiscoveryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _rooms = new(StringComparer.Ordinal);
    private readonly HashSet<PeerId> _dialing = [];
    private readonly SemaphoreSlim _dials;
    private readonly BackgroundTasks _background = new();
    private readonly CancellationTokenSource _stopping = new();
    private Entry? _presence;
    private int _disposed;

    public RoomDiscovery(IProviderRouting routing, PeerId self, IDiscoveryHost host, RoomDiscoveryOptions options, TimeProvider time, ILogger logger)
    {
        options.Validate();
        _routing = routing;
        _self = self;
        _host = host;
        _options = options;
        _time = time;
        _logger = logger;
        _dials = new SemaphoreSlim(options.MaxConcurrentDials, options.MaxConcurrentDials);
    }

    /// <summary>The routing system (for /dht).</summary>
    public IProviderRouting Routing => _routing;

    /// <summary>Starts providing our presence key.</summary>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_gate)
        {
            if (_presence is not null)
                return;
            _presence = new Entry("presence", null, DiscoveryKeys.Peer(_self), _stopping.Token);
            _background.Track(RunAsync(_presence));
        }
    }

    /// <summary>Starts providing and looking up <paramref name="room"/> (nothing when it is already running).</summary>
    public void Join(string room)
    {
        if (Volatile.Read(ref _disposed) != 0)
            return;
        lock (_gate)
        {
            if (_rooms.ContainsKey(room))
                return;
            Entry entry = new("room " + room, room, DiscoveryKeys.Room(room), _stopping.Token);
            _rooms[room] = entry;
            _background.Track(RunAsync(entry));
        }
    }

    /// <summary>Stops providing and looking up <paramref name="room"/>.</summary>
    public void Leave(string room)
    {
        Entry? entry;
        lock (_gate)
            _rooms.Remove(room, out entry);
        entry?.Cancel();
    }

    /// <summary>
    /// Our addresses changed (e.g. a relay address came): every record is provided again after
    /// <see cref="RoomDiscoveryOptions.AddressChangeDelay"/>, and each room is looked up again right
    /// after its provide, quickly at first: we may just have become reachable to members that could
    /// not dial us before.
    /// </summary>
    public void AddressesChanged()
    {
        Entry[] entries;
        lock (_gate)
            entries = [.. _rooms.Values, .. _presence is null ? [] : new[] { _presence }];
        DateTimeOffset due = _time.GetUtcNow() + _options.AddressChangeDelay;
        foreach (Entry entry in entries)
            entry.ProvideBy(due, lookUpAfter: entry.Room is not null);
    }

    /// <summary>The rooms a lookup found other providers of, in name order.</summary>
    public IReadOnlyList<string> RoomsFound
    {
        get
        {
            lock (_gate)
                return [.. _rooms.Values.Where(e => e.FoundOthers).Select(e => e.Room!).Order(StringComparer.Ordinal)];
        }
    }

    /// <summary>Whether <paramref name="room"/> is being provided and looked up.</summary>
    public bool IsActive(string room)
    {
        lock (_gate)
            return _rooms.ContainsKey(room);
    }

    /// <summary>When the loop of <paramref name="room"/> (null: our presence) wakes next, while it waits; null while it works (for tests).</summary>
    internal DateTimeOffset? NextWake(string? room)
    {
        lock (_gate)
        {
            Entry? entry = room is null ? _presence : _rooms.GetValueOrDefault(room);
            return entry?.WaitingUntil;
        }
    }

    /// <summary>
    /// The addresses <paramref name="peer"/>'s presence record carries (at most
    /// <see cref="RoomDiscoveryOptions.MaxPresenceAddresses"/>); empty when the DHT has none.
    /// </summary>
    public async Task<IReadOnlyList<Multiaddr>> FindPeerAsync(PeerId peer, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        using CancellationTokenSource timer = new(_options.OperationTimeout, _time);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token, timer.Token);
        List<Multiaddr> found = [];
        try
        {
            await foreach (ProviderRecord record in _routing.FindProvidersAsync(DiscoveryKeys.Peer(peer), 4, timeout.Token).ConfigureAwait(false))
            {
                if (record.Peer != peer)
                    continue;
                foreach (Multiaddr address in record.Addresses)
                {
                    if (found.Count < _options.MaxPresenceAddresses && !found.Contains(address))
                        found.Add(address);
                }
                if (found.Count > 0)
                    break;
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.LookupFailed(_logger, "presence of " + peer, e.Message);
        }
        Log.PresenceFound(_logger, peer, found.Count);
        _host.StatusChanged();
        return found;
    }

    private async Task RunAsync(Entry entry)
    {
        await Task.Yield();
        CancellationToken cancellationToken = entry.Token;
        try
        {
            DateTimeOffset start = _time.GetUtcNow();
            entry.ProvideBy(start, lookUpAfter: false);
            entry.NextLookup = entry.Room is null ? DateTimeOffset.MaxValue : start;
            // Waits after a provide that reached nobody and after a lookup that left the room short,
            // each doubling from its first value (the routing table is empty for the first moments).
            TimeSpan firstRetry = Min(_options.FirstRetryInterval, _options.ProvideRetryInterval);
            TimeSpan firstLookup = Min(_options.FirstLookupInterval, _options.EagerLookupInterval);
            TimeSpan provideRetry = firstRetry;
            TimeSpan lookupWait = firstLookup;
            while (!cancellationToken.IsCancellationRequested)
            {
                if (_time.GetUtcNow() >= entry.NextProvide)
                {
                    entry.Providing();
                    bool reached = await ProvideAsync(entry, cancellationToken).ConfigureAwait(false);
                    bool lookUp = entry.Provided(_time.GetUtcNow() + (reached ? _options.RepublishInterval : provideRetry), reached);
                    provideRetry = reached ? firstRetry : Doubled(provideRetry, _options.ProvideRetryInterval);
                    if (lookUp && entry.Room is not null)
                    {
                        entry.NextLookup = _time.GetUtcNow();
                        lookupWait = firstLookup;
                    }
                }
                if (_time.GetUtcNow() >= entry.NextLookup)
                {
                    bool enough = await LookupAsync(entry, cancellationToken).ConfigureAwait(false);
                    entry.NextLookup = _time.GetUtcNow() + (enough ? _options.SettledLookupInterval : lookupWait);
                    lookupWait = enough ? firstLookup : Doubled(lookupWait, _options.EagerLookupInterval);
                }
                await WaitAsync(entry, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            entry.Dispose();
        }
    }

    private static TimeSpan Doubled(TimeSpan wait, TimeSpan most) => wait >= most / 2 ? most : wait * 2;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Waits until the next provide or lookup is due, or a provide is asked for sooner.</summary>
    private async Task WaitAsync(Entry entry, CancellationToken cancellationToken)
    {
        while (entry.Wake.Reader.TryRead(out _))
        {
        }
        DateTimeOffset next = entry.NextProvide < entry.NextLookup ? entry.NextProvide : entry.NextLookup;
        TimeSpan delay = next - _time.GetUtcNow();
        if (delay <= TimeSpan.Zero)
            return;
        using CancellationTokenSource done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task sleep = Task.Delay(delay, _time, done.Token);
        Task woken = entry.Wake.Reader.WaitToReadAsync(done.Token).AsTask();
        lock (_gate)
            entry.WaitingUntil = next;
        try
        {
            await Task.WhenAny(sleep, woken).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
                entry.WaitingUntil = null;
            await done.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(sleep, woken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Provides the entry's key; false when it reached nobody (then it is tried again soon).</summary>
    private async Task<bool> ProvideAsync(Entry entry, CancellationToken cancellationToken)
    {
        using CancellationTokenSource timer = new(_options.OperationTimeout, _time);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            int count = await _routing.ProvideAsync(entry.Key, timeout.Token).ConfigureAwait(false);
            Log.Provided(_logger, entry.Name, count);
            return count > 0;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.ProvideFailed(_logger, entry.Name, e.Message);
            return false;
        }
        finally
        {
            _host.StatusChanged();
        }
    }

    /// <summary>Looks the room's providers up and dials the new ones; true when the room has enough peers now.</summary>
    private async Task<bool> LookupAsync(Entry entry, CancellationToken cancellationToken)
    {
        string room = entry.Room!;
        using CancellationTokenSource timer = new(_options.OperationTimeout, _time);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        HashSet<PeerId> others = [];
        List<Task> dials = [];
        try
        {
            await foreach (ProviderRecord provider in _routing.FindProvidersAsync(entry.Key, _options.MaxProvidersPerLookup, timeout.Token)
                .ConfigureAwait(false))
            {
                if (provider.Peer == _self || !others.Add(provider.Peer))
                    continue;
                if (others.Count > _options.MaxProvidersPerLookup)
                    break;
                Log.ProviderFound(_logger, entry.Name, provider.Peer, provider.Addresses.Count);
                if (!_host.IsConnected(provider.Peer) && StartDial(provider.Peer))
                    dials.Add(DialAsync(entry, provider, cancellationToken));
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.LookupFailed(_logger, entry.Name, e.Message);
        }
        await Task.WhenAll(dials).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        cancellationToken.ThrowIfCancellationRequested();
        Log.LookedUp(_logger, entry.Name, others.Count, dials.Count);
        if (others.Count > 0)
        {
            lock (_gate)
                entry.FoundOthers = true;
        }
        _host.StatusChanged();
        return _host.RoomPeers(room) >= _options.EnoughPeers || (others.Count > 0 && others.All(_host.IsConnected));
    }

    private bool StartDial(PeerId peer)
    {
        lock (_gate)
            return _dialing.Add(peer);
    }

    private async Task DialAsync(Entry entry, ProviderRecord provider, CancellationToken cancellationToken)
    {
        try
        {
            await _dials.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (!_host.IsConnected(provider.Peer))
                    await _host.DialAsync(provider, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _dials.Release();
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.DialFailed(_logger, provider.Peer, entry.Name, e.Message);
        }
        finally
        {
            lock (_gate)
                _dialing.Remove(provider.Peer);
        }
    }

    /// <summary>Stops every loop and waits for them.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        Entry[] entries;
        lock (_gate)
        {
            entries = [.. _rooms.Values];
            _rooms.Clear();
        }
        foreach (Entry entry in entries)
            entry.Cancel();
        await _background.DrainAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _stopping.Dispose();
        _dials.Dispose();
    }

    /// <summary>One key provided (a room's or our presence), and the schedule of its loop.</summary>
    private sealed class Entry(string name, string? room, byte[] key, CancellationToken stopping) : IDisposable
    {
        private readonly CancellationTokenSource _cancel = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        private readonly Lock _gate = new();
        private DateTimeOffset _nextProvide = DateTimeOffset.MaxValue;
        private DateTimeOffset? _askedWhileProviding;
        private bool _providing;
        private bool _lookUpAfterProvide;
        private bool _lookUpAfterNextProvide;

        public string Name { get; } = name;

        /// <summary>The room; null for our presence (provided, never looked up).</summary>
        public string? Room { get; } = room;

        public byte[] Key { get; } = key;

        public Channel<bool> Wake { get; } = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

        public DateTimeOffset NextProvide
        {
            get
            {
                lock (_gate)
                    return _nextProvide;
            }
        }

        public DateTimeOffset NextLookup { get; set; } = DateTimeOffset.MaxValue;

        public bool FoundOthers { get; set; }

        public DateTimeOffset? WaitingUntil { get; set; }

        /// <summary>Cancelled when the room is left or discovery stops.</summary>
        public CancellationToken Token => _cancel.Token;

        /// <summary>Asks for a provide no later than <paramref name="due"/>, and with <paramref name="lookUpAfter"/> a lookup right after it.</summary>
        public void ProvideBy(DateTimeOffset due, bool lookUpAfter)
        {
            lock (_gate)
            {
                if (_providing && (_askedWhileProviding is not { } asked || due < asked))
                    _askedWhileProviding = due;
                if (due < _nextProvide)
                    _nextProvide = due;
                if (_providing)
                    _lookUpAfterNextProvide |= lookUpAfter;
                else
                    _lookUpAfterProvide |= lookUpAfter;
            }
            Wake.Writer.TryWrite(true);
        }

        /// <summary>A provide starts: what is asked from now on is kept for after it.</summary>
        public void Providing()
        {
            lock (_gate)
            {
                _providing = true;
                _askedWhileProviding = null;
                _lookUpAfterNextProvide = false;
            }
        }

        /// <summary>
        /// A provide ended; the next is due at <paramref name="next"/> unless one was asked for sooner
        /// meanwhile. Returns whether a lookup was asked for after this provide (kept for the next
        /// one when this one <paramref name="reached"/> nobody).
        /// </summary>
        public bool Provided(DateTimeOffset next, bool reached)
        {
            lock (_gate)
            {
                _nextProvide = _askedWhileProviding is { } asked && asked < next ? asked : next;
                _providing = false;
                _askedWhileProviding = null;
                // A provide that reached nobody keeps its lookup for the retry.
                bool lookUp = _lookUpAfterProvide && reached;
                _lookUpAfterProvide = _lookUpAfterNextProvide || (_lookUpAfterProvide && !reached);
                _lookUpAfterNextProvide = false;
                return lookUp;
            }
        }

        public void Cancel()
        {
            try
            {
                _cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public void Dispose() => _cancel.Dispose();
    }
}
