using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Threading;
using Makaretu.Dns;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Mdns;

/// <summary>
/// libp2p peer discovery over multicast DNS (discovery/mdns.md) on every multicast interface, IPv4
/// and IPv6: answers queries for our service names with our addresses, announces itself at start,
/// queries periodically, and reports the peers it hears about through <see cref="PeerDiscovered"/>.
/// </summary>
/// <remarks>
/// Everything from the network is untrusted: a packet that does not decode is dropped, at most
/// <see cref="MdnsOptions.MaxPeers"/> peers are remembered (each address until its TTL), records
/// naming our own peer id or peer name are ignored, and addresses nobody could dial (unspecified,
/// multicast, someone else's loopback) are dropped. A query is answered on one interface at most
/// once a second per service (RFC 6762); a flood of queries costs one answer a second. Before
/// anything is decoded, <see cref="MdnsPacketLimiter"/> drops what exceeds
/// <see cref="MdnsOptions.MaxPacketsPerSecond"/> per interface and
/// <see cref="MdnsOptions.MaxPacketsPerSecondPerSource"/> per sender, which bounds the CPU a flood costs.
/// </remarks>
public sealed class MdnsDiscovery : IAsyncDisposable
{
    private static readonly TimeSpan AnswerSpacing = TimeSpan.FromSeconds(1);

    /// <summary>A full peer table (a flood of made-up peers, most likely) is reported at most this often.</summary>
    internal static readonly TimeSpan ReportSpacing = TimeSpan.FromSeconds(10);

    private readonly PeerId _self;
    private readonly Func<IReadOnlyList<Multiaddr>> _listenAddresses;
    private readonly MdnsOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly MdnsPeerTable _peers;
    private readonly MdnsPacketLimiter _limiter;
    private readonly byte[][] _serviceLabels;
    private readonly List<MdnsSocket> _sockets = [];
    private readonly MdnsAnswerSpacing _answerSpacing = new(AnswerSpacing);
    private readonly List<Task> _loops = [];
    private readonly BackgroundTasks _answers = new();   // answers deferred by AnswerSpacing
    private readonly CancellationTokenSource _stopping = new();
    private IReadOnlyList<MulticastInterface> _interfaces = [];
    private IReadOnlySet<IPAddress> _localAddresses = new HashSet<IPAddress>();
    private long _evictionsReported;
    private DateTimeOffset _lastReport = DateTimeOffset.MinValue;
    private int _started;
    private int _disposed;

    /// <param name="self">Our peer id: it goes into our TXT records and our own records are ignored.</param>
    /// <param name="listenAddresses">Our current listen addresses (read at every answer; loopback ones are not advertised).</param>
    public MdnsDiscovery(PeerId self, Func<IReadOnlyList<Multiaddr>> listenAddresses, MdnsOptions options, ILoggerFactory loggers,
        TimeProvider? time = null)
    {
        options.Validate();
        _self = self;
        _listenAddresses = listenAddresses;
        _options = options;
        _logger = loggers.CreateLogger<MdnsDiscovery>();
        _time = time ?? TimeProvider.System;
        _peers = new MdnsPeerTable(options.MaxPeers, options.MaxAddressesPerPeer, options.MaxRecordTtl);
        _limiter = new MdnsPacketLimiter(options, _time);
        _serviceLabels = MdnsMessages.FirstLabels(options.ServiceNames);
        PeerName = MdnsPeerName.Create();
    }

    /// <summary>Our random instance name (never our peer id or nick).</summary>
    public string PeerName { get; }

    /// <summary>
    /// A peer was heard of (first time or refreshed): its id and every unexpired address we know for
    /// it. Raised on a receive loop; handlers must not block.
    /// </summary>
    public event Action<PeerId, IReadOnlyList<Multiaddr>>? PeerDiscovered;

    /// <summary>Peers currently remembered.</summary>
    public int PeerCount
    {
        get
        {
            lock (_gate)
                return _peers.Count;
        }
    }

    /// <summary>
    /// Opens the sockets and starts answering, announcing and querying. Returns false (and logs why)
    /// when no socket could be opened; discovery is then simply off.
    /// </summary>
    public bool Start()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("mDNS discovery is already started");
        List<string> problems = [];
        foreach ((bool on, AddressFamily family) in (ReadOnlySpan<(bool, AddressFamily)>)
                 [(_options.IPv4, AddressFamily.InterNetwork), (_options.IPv6, AddressFamily.InterNetworkV6)])
        {
            if (!on)
                continue;
            try
            {
                _sockets.Add(MdnsSocket.Open(family, _options.Port));
            }
            catch (SocketException e)
            {
                problems.Add($"{family}: {e.Message}");
            }
        }
        if (_sockets.Count == 0)
        {
            Log.Unavailable(_logger, string.Join("; ", problems));
            return false;
        }
        RefreshInterfaces();
        Log.Started(_logger, string.Join(", ", _interfaces.Select(i => $"{i.Name}/{(i.Family == AddressFamily.InterNetwork ? "v4" : "v6")}")),
            PeerName);
        foreach (MdnsSocket socket in _sockets)
            _loops.Add(Task.Factory.StartNew(() => ReceiveLoop(socket, _stopping.Token), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default));
        _loops.Add(QueryLoopAsync(_stopping.Token));
        return true;
    }

    /// <summary>Handles one datagram as if it had arrived from <paramref name="source"/> on interface <paramref name="interfaceIndex"/>.</summary>
    internal void HandlePacket(ReadOnlySpan<byte> packet, IPEndPoint source, int interfaceIndex)
    {
        if (!MdnsMessages.MayConcern(packet, _serviceLabels))
            return;                         // about other services (or noise): not worth decoding
        if (MdnsMessages.TryRead(packet) is not { } message)
        {
            Log.PacketIgnored(_logger, source, "not a DNS message");
            return;
        }
        if (message.IsQuery)
        {
            foreach (string service in MdnsMessages.QueriedServices(message, _options.ServiceNames))
                Answer(service, source.AddressFamily, interfaceIndex);
            return;
        }
        IReadOnlyList<MdnsAnnouncement> announcements = MdnsMessages.ReadAnnouncements(message, _options.ServiceNames,
            _options.MaxAddressesPerPeer);
        foreach (MdnsAnnouncement announcement in announcements)
            Accept(announcement, source, interfaceIndex);
    }

    private void Accept(MdnsAnnouncement announcement, IPEndPoint source, int interfaceIndex)
    {
        if (announcement.Peer.Equals(_self) || announcement.InstanceName.StartsWith(PeerName, StringComparison.OrdinalIgnoreCase))
            return;
        List<Multiaddr> usable = [];
        foreach (Multiaddr address in announcement.Addresses)
        {
            if (MdnsAddressFilter.Dialable(address, source.Address, interfaceIndex, _localAddresses.Contains) is { } dialable)
                usable.Add(dialable);
        }
        IReadOnlyList<Multiaddr> known;
        (int Peers, long Forgotten)? full = null;
        lock (_gate)
        {
            DateTimeOffset now = _time.GetUtcNow();
            _peers.Update(announcement.Peer, usable, announcement.Ttl, now);
            known = _peers.Addresses(announcement.Peer, now);
            if (_peers.Evicted > _evictionsReported && now - _lastReport >= ReportSpacing)
            {
                full = (_peers.Count, _peers.Evicted - _evictionsReported);
                _evictionsReported = _peers.Evicted;
                _lastReport = now;
            }
        }
        if (full is { } report)
            Log.TableFull(_logger, report.Peers, report.Forgotten);
        if (known.Count == 0)
            return;
        if (_logger.IsEnabled(LogLevel.Debug))
            Log.PeerFound(_logger, announcement.Peer, announcement.ServiceName, string.Join(" ", known));
        PeerDiscovered?.Invoke(announcement.Peer, known);
    }

    /// <summary>
    /// Every address of this machine, looked up with the interfaces (at start and at every query),
    /// not per record: a flood of records with loopback addresses must not cost an interface
    /// enumeration each.
    /// </summary>
    private static HashSet<IPAddress> LocalAddresses()
    {
        try
        {
            return [.. NetworkInterface.GetAllNetworkInterfaces().SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(u => u.Address)];
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }

    /// <summary>Our addresses as we advertise them: not loopback, with /p2p/, within the limit.</summary>
    private List<Multiaddr> AdvertisedAddresses() =>
        [.. _listenAddresses().Where(MdnsAddressFilter.IsAdvertisable).Select(a => a.WithPeerId(_self)).Distinct()
            .Take(_options.MaxAddressesPerPeer)];

    private void Answer(string service, AddressFamily family, int interfaceIndex)
    {
        (string, AddressFamily, int) key = (service, family, interfaceIndex);
        DateTimeOffset now = _time.GetUtcNow();
        TimeSpan? wait;
        lock (_gate)
            wait = _answerSpacing.Query(key, now);
        if (wait is not { } delay)
            return;   // an answer is deferred already
        if (delay <= TimeSpan.Zero)
        {
            SendResponse(service, family, interfaceIndex, _options.RecordTtl);
            return;
        }
        _answers.Track(AnswerLaterAsync(key, delay));
    }

    private async Task AnswerLaterAsync((string Service, AddressFamily Family, int Interface) key, TimeSpan wait)
    {
        try
        {
            await Task.Delay(wait, _time, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        lock (_gate)
            _answerSpacing.Answered(key, _time.GetUtcNow());
        SendResponse(key.Service, key.Family, key.Interface, _options.RecordTtl);
    }

    private void Send(byte[] packet, AddressFamily? family, int interfaceIndex)
    {
        IReadOnlyList<MulticastInterface> interfaces;
        lock (_gate)
            interfaces = _interfaces;
        foreach (MdnsSocket socket in _sockets)
        {
            if (family is { } only && socket.Family != only)
                continue;
            foreach (MulticastInterface nic in interfaces)
            {
                if (nic.Family != socket.Family || (interfaceIndex > 0 && nic.Index != interfaceIndex))
                    continue;
                try
                {
                    socket.Send(packet, nic);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    Log.SendFailed(_logger, nic.Name, e.Message);
                }
            }
        }
    }

    private void RefreshInterfaces()
    {
        IReadOnlyList<MulticastInterface> current = MulticastInterface.Current(_options.IPv4, _options.IPv6);
        foreach (MdnsSocket socket in _sockets)
        {
            foreach (MulticastInterface nic in current.Where(n => n.Family == socket.Family))
            {
                try
                {
                    socket.Join(nic);
                }
                catch (SocketException e)
                {
                    Log.JoinFailed(_logger, nic.Name, e.Message);
                }
            }
        }
        HashSet<IPAddress> local = LocalAddresses();
        lock (_gate)
        {
            _interfaces = current;
            _localAddresses = local;
        }
    }

    /// <summary>
    /// Reads the socket on a thread of its own with blocking receives until it is closed: a packet
    /// then costs one wake-up, where an asynchronous receive costs two (the socket event thread and a
    /// pool thread), which under a flood is most of what a dropped packet costs.
    /// </summary>
    private void ReceiveLoop(MdnsSocket socket, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[MdnsMessages.MaxPacketBytes + 1];
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                (int length, IPEndPoint source, int nic) = socket.Receive(buffer);
                if (length < 0 || length > MdnsMessages.MaxPacketBytes)
                {
                    Log.PacketIgnored(_logger, source, "longer than 9000 bytes");
                    continue;
                }
                if (_limiter.Allow(source.Address, nic))
                    HandlePacket(buffer.AsSpan(0, length), source, nic);
                else if (_limiter.DroppedToReport(ReportSpacing) is > 0 and long dropped)
                    Log.PacketsLimited(_logger, _options.MaxPacketsPerSecond, _options.MaxPacketsPerSecondPerSource, dropped);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (cancellationToken.IsCancellationRequested)
                    return;                 // closed under a blocking receive
                Log.PacketIgnored(_logger, socket.Family, e.Message);
            }
        }
    }

    /// <summary>Announces at start and a second later (RFC 6762), and queries at 0, 1, 2, 4... s up to the query interval.</summary>
    private async Task QueryLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        byte[] query = MdnsMessages.BuildQuery(_options.ServiceNames);
        TimeSpan interval = TimeSpan.FromSeconds(1);
        int round = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (round > 0)
                    RefreshInterfaces();
                if (round < 2)
                {
                    foreach (string service in _options.ServiceNames)
                        SendResponse(service, null, 0, _options.RecordTtl);
                }
                Send(query, null, 0);
                lock (_gate)
                    _peers.Expire(_time.GetUtcNow());
                round++;
                await Task.Delay(interval, _time, cancellationToken).ConfigureAwait(false);
                interval = interval * 2 < _options.QueryInterval ? interval * 2 : _options.QueryInterval;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void SendResponse(string service, AddressFamily? family, int interfaceIndex, TimeSpan ttl)
    {
        List<Multiaddr> addresses = AdvertisedAddresses();
        if (addresses.Count == 0)
            return;                         // loopback only: nothing a neighbour could dial
        Send(MdnsMessages.BuildResponse(service, PeerName, addresses, ttl), family, interfaceIndex);
    }

    /// <summary>Says goodbye (TTL 0) on every interface, stops the loops and closes the sockets.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        if (Volatile.Read(ref _started) != 0 && _sockets.Count > 0)
        {
            foreach (string service in _options.ServiceNames)
                SendResponse(service, null, 0, TimeSpan.Zero);
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _answers.DrainAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        foreach (MdnsSocket socket in _sockets)
            socket.Dispose();
        await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
