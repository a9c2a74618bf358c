using System.Threading.Channels;
using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Mdns;
using Echo.Net.Multiformats;
using Echo.Net.Pubsub;
using Echo.Protocols.EchoGo;
using Echo.Protocols.History;
using Echo.Protocols.Rooms;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols;

/// <summary>
/// The chat's network over libp2p: rooms are gossipsub topics carrying go-chat-example JSON
/// (<see cref="RoomMessageCodec"/>), echo-go peers are spoken to with their line protocol
/// (<see cref="EchoGoLine"/>), and connections, disconnections and pings become
/// <see cref="NetworkEvent"/>s.
/// </summary>
/// <remarks>
/// It takes ownership of the (not yet started) host and creates the pubsub router; disposing it
/// disposes both. Nothing is dropped on the way to the chat: what peers send waits for room in a
/// <see cref="NetworkEventQueue"/> (a flooding peer slows its own streams), and host events are
/// queued without blocking the host.
/// </remarks>
public sealed partial class Libp2pChatNetwork : IChatNetwork
{
    private readonly Libp2pHost _host;
    private readonly PubsubRouter _router;
    private readonly EchoGoStreams _echoGo;
    private readonly HistorySync? _history;
    private readonly string _echoGoTag = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.NextInt64()))[..8];
    private readonly ChatNetworkOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly NetworkEventQueue _events;
    private readonly Lock _gate = new();
    private readonly HashSet<PeerId> _joined = [];
    private readonly Dictionary<string, Room> _rooms = new(StringComparer.Ordinal);
    private readonly HashSet<string> _validated = new(StringComparer.Ordinal);
    private readonly BackgroundTasks _background = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly ILoggerFactory _loggers;
    private readonly HashSet<PeerId> _mdnsDialing = [];
    private MdnsDiscovery? _mdns;
    private MdnsAutoDialer? _mdnsDialer;
    private long _echoGoLines;
    private long _echoGoLinesFromRoomPeers;
    private int _started;
    private int _disposed;

    private sealed record Room(PubsubSubscription Subscription, Task Pump);

    /// <param name="store">
    /// The history, read only: with it, the node answers history sync requests from it and fetches
    /// what peers have of each joined room (<c>/echo/history/1.0.0</c>), handing each verified page
    /// to the chat (<see cref="HistoryPageFetched"/>), which stores it.
    /// </param>
    public Libp2pChatNetwork(Libp2pHost host, ChatNetworkOptions options, ILoggerFactory loggers, TimeProvider? time = null,
        IHistoryReader? store = null)
    {
        options.Validate();
        _host = host;
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = loggers.CreateLogger<Libp2pChatNetwork>();
        _loggers = loggers;
        _router = new PubsubRouter(host, WithLimited(options.Pubsub), loggers, _time);
        _echoGo = new EchoGoStreams(host, OnEchoGoLineAsync, OnEchoGoPeer, options.EchoGo, _time, _logger);
        _events = new NetworkEventQueue(options.EventCapacity, Math.Clamp(options.EventCapacity / 16, 1, MaxQueuedPerSource));
        if (store is not null)
            _history = new HistorySync(host, store, options.History, (e, ct) => PostAsync("history", e, ct), _router.Penalize, _time, _logger,
                options.ServedStreamIdleTimeout);
    }

    /// <inheritdoc />
    public string LocalPeerId => _host.PeerId.ToString();

    /// <inheritdoc />
    public IReadOnlyList<string> ListenAddresses =>
        [.. _host.AdvertisedAddresses.Select(a => a.WithPeerId(_host.PeerId).ToString())];

    /// <inheritdoc />
    public ChannelReader<NetworkEvent> Events => _events;

    internal Libp2pHost Host => _host;

    internal PubsubRouter Router => _router;

    internal EchoGoStreams EchoGo => _echoGo;

    /// <summary>echo-go lines not shown because their sender sends us the default room through gossipsub.</summary>
    internal long EchoGoLinesFromRoomPeers => Interlocked.Read(ref _echoGoLinesFromRoomPeers);

    internal HistorySync? History => _history;

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("the network is already started");
        _host.PeerConnected += OnPeerConnected;
        _host.PeerDisconnected += OnPeerDisconnected;
        _host.PeerIdentified += OnPeerIdentified;
        _host.SetStreamHandler(EchoGoLine.ProtocolId, _echoGo.HandleInboundAsync);
        if (_history is not null)
            _host.SetStreamHandler(HistorySync.ProtocolId, _history.HandleInboundAsync, InboundStreamLimits.History, allowOnLimited: true);
        StartLimited();
        StartDirect();
        StartProfile();
        StartReachability();
        StartAddresses();
        try
        {
            await _host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ListenFailedException e)
        {
            throw new ChatNetworkException(e.Message, e);
        }
        await _router.StartAsync(cancellationToken).ConfigureAwait(false);
        if (_options.Mdns is { } mdns)
            StartMdns(mdns);
        StartPeers();
        StartPublicNetwork();
        StartDiscovery();
        Track(PingLoopAsync(_stopping.Token));
        Track(MeshProtectionLoopAsync(_stopping.Token));
        if (_history is not null)
            Track(HistoryLoopAsync(_stopping.Token));
        Log.Started(_logger, _host.PeerId);
    }

    /// <inheritdoc />
    public async Task<string> ConnectAsync(string address, CancellationToken cancellationToken) =>
        (await DialAsync(address, cancellationToken).ConfigureAwait(false)).PeerId;

    /// <summary>
    /// Local-network discovery: peers found by mDNS are dialed (bounded, with back-off) and reported
    /// with <see cref="PeerSource.Mdns"/>.
    /// </summary>
    private void StartMdns(MdnsOptions options)
    {
        _mdnsDialer = new MdnsAutoDialer(_host.PeerId, peer => _host.GetConnection(peer) is not null, DialDiscoveredAsync, options,
            _loggers.CreateLogger<MdnsAutoDialer>(), _time);
        _mdns = new MdnsDiscovery(_host.PeerId, () => _host.AdvertisedAddresses, options, _loggers, _time);
        _mdns.PeerDiscovered += (peer, addresses) => _mdnsDialer.Offer(peer, addresses);
        _mdns.Start();
    }

    private async Task DialDiscoveredAsync(Multiaddr address, CancellationToken cancellationToken)
    {
        PeerId peer = address.PeerId!;
        lock (_gate)
            _mdnsDialing.Add(peer);
        try
        {
            await _host.DialAsync(address, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
                _mdnsDialing.Remove(peer);
        }
    }

    /// <inheritdoc />
    public Task JoinRoomAsync(string room, CancellationToken cancellationToken)
    {
        if (ChatLimits.CheckRoom(room) is { } roomError)
            throw new ChatNetworkException(roomError);
        string topic = RoomTopic.ForRoom(room);
        lock (_gate)
        {
            if (_rooms.ContainsKey(room))
                return Task.CompletedTask;
            if (_validated.Add(topic))
                _router.AddValidator(topic, message => RoomChannel.Validate(topic, message, _logger));
            PubsubSubscription subscription;
            try
            {
                subscription = _router.Subscribe(topic);
            }
            catch (ObjectDisposedException e)
            {
                throw new ChatNetworkException("the network is stopped", e);
            }
            _rooms[room] = new Room(subscription, PumpRoomAsync(room, subscription));
        }
        JoinDiscovery(room);
        foreach (Connection connection in _host.Connections)
            SyncHistory(connection.RemotePeer, room);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task LeaveRoomAsync(string room, CancellationToken cancellationToken)
    {
        Room? left;
        lock (_gate)
            _rooms.Remove(room, out left);
        if (left is null)
            return;
        LeaveDiscovery(room);
        await left.Subscription.DisposeAsync().ConfigureAwait(false);
        await left.Pump.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<ChatMessage> PublishAsync(string room, string nick, string text, CancellationToken cancellationToken) =>
        PublishRoomAsync(room, nick, text, action: false, cancellationToken);

    /// <inheritdoc />
    public Task<ChatMessage> PublishActionAsync(string room, string nick, string action, CancellationToken cancellationToken) =>
        PublishRoomAsync(room, nick, action, action: true, cancellationToken);

    /// <summary>Publishes a message (or a /me action: its readable text flagged, see <see cref="ChatAction"/>).</summary>
    private async Task<ChatMessage> PublishRoomAsync(string room, string nick, string text, bool action, CancellationToken cancellationToken)
    {
        // The chat checked room, nick and text against ChatLimits (an action with ChatAction.Check); what a peer sends is checked by RoomChannel.
        string topic = RoomTopic.ForRoom(room);
        DateTimeOffset now = DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());
        byte[] data = action ? RoomMessageCodec.EncodeAction(text, LocalPeerId, nick, now) : RoomMessageCodec.Encode(text, LocalPeerId, nick, now);
        PubsubMessage sent;
        try
        {
            sent = await _router.PublishAsync(topic, data, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new ChatNetworkException(e.Message, e);
        }
        if (room == _options.DefaultRoom)
        {
            // echo-go peers hear the default room on their stream; a peer that is in the room's topic
            // already has the message from gossipsub and would otherwise see it twice.
            HashSet<PeerId> inTopic = [.. _router.TopicPeers(topic)];
            // An action is a plain line there: "alice|* alice waves".
            _echoGo.Broadcast(EchoGoLine.Format(nick, action ? ChatAction.Fallback(nick, text) : text), peer => !inTopic.Contains(peer), SpeaksPubsub);
        }
        return new ChatMessage(RoomMessageId(sent), room, LocalPeerId, nick, text, now, MessageOrigin.Local)
        {
            Envelope = SignedRoomMessage.Envelope(sent),
            Action = action,
        };
    }

    /// <summary>Opens our echo-go stream to a connected peer unless one is open (tests drive the race with it).</summary>
    internal Task OpenEchoGoAsync(PeerId peer, CancellationToken cancellationToken) =>
        _echoGo.OpenAsync(peer, cancellationToken);

    private static string RoomMessageId(PubsubMessage message) => SignedRoomMessage.MessageId(message.From, message.Seqno);

    /// <summary>Fetches what <paramref name="peer"/> has of <paramref name="room"/>, if it speaks history sync.</summary>
    private void SyncHistory(PeerId peer, string room)
    {
        if (_history is not null && _host.PeerStore.Get(peer) is { } info && info.Supports(HistorySync.ProtocolId))
            Track(_history.SyncAsync(peer, room, _stopping.Token));
    }

    private async Task PumpRoomAsync(string room, PubsubSubscription subscription)
    {
        await Task.Yield();
        try
        {
            await foreach (PubsubMessage message in subscription.Messages.ReadAllAsync(_stopping.Token).ConfigureAwait(false))
            {
                // Decoded once, by the topic's validator (RoomChannel).
                if (RoomChannel.Decoded(message.Topic, message, _logger) is not { } decoded)
                    continue;
                string from = message.From.ToString();
                string nick = decoded.SenderNick ?? PeerInfo.ShortPeerId(from);
                DateTimeOffset received = _time.GetUtcNow();
                await PostAsync("room:" + room, new MessageArrived(MessageClock.Clamp(new ChatMessage(RoomMessageId(message), room, from,
                    nick, decoded.Text, decoded.Timestamp ?? received,
                    MessageOrigin.Room)
                { Envelope = SignedRoomMessage.Envelope(message), ReceivedFrom = message.ReceivedFrom?.ToString(), Action = decoded.Action }, received)),
                    _stopping.Token).ConfigureAwait(false);
                await PostRoomOfferAsync(room, from, nick, decoded).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A line from an echo-go stream: its reader waits here while the chat is behind (backpressure on that stream).</summary>
    private async ValueTask OnEchoGoLineAsync(PeerId peer, EchoGoReadLine line, CancellationToken cancellationToken)
    {
        (string? username, string text) = EchoGoLine.Parse(line.Text);
        if (string.IsNullOrWhiteSpace(text))
            return;
        // An Echo node in our pubsub session sends us the default room's messages through gossipsub
        // when we are in the room: a line it wrote too (it took us for a peer outside the room, as
        // while a hole-punched connection replaces a relayed one and our subscription is not yet
        // known there) would show the message twice. Gossip or the history sync bring it.
        if (_router.IsPeer(peer) && _router.IsSubscribed(RoomTopic.ForRoom(_options.DefaultRoom)))
        {
            Interlocked.Increment(ref _echoGoLinesFromRoomPeers);
            Log.EchoGoLineFromRoomPeer(_logger, peer);
            return;
        }
        string shown = EchoGoLine.ForDisplay(text, line.Cut);
        if (!ReferenceEquals(shown, text))
        {
            Log.EchoGoLineTruncated(_logger, peer, line.Length);
            text = shown;
        }
        string sender = peer.ToString();
        string? name = username?.Trim();
        string nick = name is { Length: > 0 and <= ChatLimits.MaxNickLength } ? name : PeerInfo.ShortPeerId(sender);
        long number = Interlocked.Increment(ref _echoGoLines);
        // The tag keeps ids apart across runs: the history store keeps one message per id.
        await PostAsync(sender, new MessageArrived(new ChatMessage($"{sender}:echo-go:{_echoGoTag}:{number}", _options.DefaultRoom, sender,
            nick, text, _time.GetUtcNow(), MessageOrigin.EchoGo)), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Only a peer without gossipsub (echo-go itself) is shown as an echo-go peer: Echo nodes speak
    /// the line protocol too, but chat with each other through rooms.
    /// </summary>
    private bool IsEchoGoOnly(PeerId peer)
    {
        if (!_echoGo.Speaks(peer))
            return false;
        // Until identify has answered we cannot tell an Echo node from echo-go; identify reports it then.
        IdentifyInfo? info = _host.PeerStore.Get(peer);
        return info is not null && !info.Protocols.Any(p => PubsubRouter.Protocols.Contains(p));
    }

    private bool SpeaksPubsub(PeerId peer) =>
        _host.PeerStore.Get(peer) is { } info && info.Protocols.Any(p => PubsubRouter.Protocols.Contains(p));

    private void OnEchoGoPeer(PeerId peer)
    {
        // A peer that speaks the line protocol to us is a chat peer, whatever its identify said.
        if (_echoGo.Speaks(peer) && _host.GetConnection(peer) is { } connection)
            Join(connection);
        lock (_gate)
        {
            if (_joined.Contains(peer) && IsEchoGoOnly(peer))
                Post(new PeerChanged(peer.ToString(), null, true));
        }
    }

    private void OnPeerConnected(Connection connection)
    {
        OnPathMaybeChanged(connection);
        if ((connection.Direction == ConnectionDirection.Outbound && !IsDhtDial(connection.RemotePeer)) || IsChatPeer(connection.RemotePeer))
            Join(connection);
    }

    /// <summary>The peer of <paramref name="connection"/> joins the chat: announced, pinged, remembered.</summary>
    private void Join(Connection connection)
    {
        PeerId peer = connection.RemotePeer;
        lock (_gate)
        {
            if (connection.IsClosed || _host.GetConnection(peer) is null || !_joined.Add(peer))
                return;
            // A peer we are dialing because mDNS found it was found by mDNS, even when its own dial
            // (it found us too) is the connection that arrived first.
            PeerSource source = _mdnsDialing.Contains(peer) ? PeerSource.Mdns
                : JoinedThroughDht(peer) ? PeerSource.Dht
                : _redialing.Contains(peer) ? PeerSource.Remembered
                : connection.Direction == ConnectionDirection.Inbound ? PeerSource.Inbound : PeerSource.Manual;
            Post(new PeerJoined(new PeerInfo(peer.ToString(), connection.RemoteAddress.ToString(), source, connection.OpenedAt,
                IsEchoGo: IsEchoGoOnly(peer))
            { Relayed = connection.IsLimited }));
            JoinedVia(connection);
        }
        Track(PingAsync(peer, _stopping.Token));
        RememberConnected(connection);
        ProtectIfDialed(peer);
    }

    private void OnPeerDisconnected(Connection connection)
    {
        PeerId peer = connection.RemotePeer;
        _echoGo.OnPeerDisconnected(peer);
        OnProfilePeerDisconnected(peer);
        lock (_gate)
        {
            if (_joined.Remove(peer))
                Post(new PeerLeft(peer.ToString()));
        }
        OnLimitedDisconnected(connection);
        RememberDisconnected(peer);
    }

    private void OnPeerIdentified(Connection connection, IdentifyInfo info)
    {
        if (IsChatPeer(info))
            Join(connection);
        if (info.Supports(EchoGoLine.ProtocolId) && !connection.IsClosed && !connection.IsLimited)   // echo-go's lines wait for a direct connection
            _echoGo.OnIdentified(connection, _options.OpenEchoGoOnIdentify);
        OnEchoGoPeer(connection.RemotePeer);
        RememberIdentified(connection, info);
        OnProfilePeerIdentified(connection, info);
        if (_history is not null && info.Supports(HistorySync.ProtocolId) && FirstIdentified(connection))
        {
            string[] rooms;
            lock (_gate)
                rooms = [.. _rooms.Keys];
            foreach (string room in rooms)
                Track(_history.SyncAsync(connection.RemotePeer, room, _stopping.Token));
        }
    }

    private async Task PingLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            using PeriodicTimer timer = new(_options.PingInterval, _time);
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                PeerId[] peers;
                lock (_gate)
                    peers = [.. _joined];
                await Task.WhenAll(peers.Select(p => PingAsync(p, cancellationToken))).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task HistoryLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            using PeriodicTimer timer = new(_options.History.Interval, _time);
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                string[] rooms;
                lock (_gate)
                    rooms = [.. _rooms.Keys];
                foreach (Connection connection in _host.Connections)
                {
                    foreach (string room in rooms)
                        SyncHistory(connection.RemotePeer, room);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task PingAsync(PeerId peer, CancellationToken cancellationToken)
    {
        try
        {
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.PingTimeout);
            TimeSpan rtt = await _host.PingAsync(peer, timeout.Token).ConfigureAwait(false);
            bool joined;
            lock (_gate)
                joined = _joined.Contains(peer);
            // After the peer left, the chat ignores it: it knows no such peer any more.
            if (joined)
                await PostAsync("ping", new PeerChanged(peer.ToString(), rtt, null), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Log.PingFailed(_logger, peer, e.Message);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>How many events one source (a peer, a room) may have waiting for the chat.</summary>
    private const int MaxQueuedPerSource = 256;

    /// <summary>A peer event from a host callback: queued at once (see <see cref="NetworkEventQueue"/>).</summary>
    private void Post(NetworkEvent networkEvent) => _events.Post(networkEvent);

    /// <summary>What a peer sent: waits while <paramref name="source"/> or the whole queue is full; never dropped.</summary>
    private ValueTask PostAsync(string source, NetworkEvent networkEvent, CancellationToken cancellationToken) =>
        _events.WriteAsync(source, networkEvent, cancellationToken);

    private void Track(Task task) => _background.Track(task);

    /// <summary>Leaves every room, closes the echo-go streams, the router and the host.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _host.PeerConnected -= OnPeerConnected;
        _host.PeerDisconnected -= OnPeerDisconnected;
        _host.PeerIdentified -= OnPeerIdentified;
        if (_mdns is not null)
            await _mdns.DisposeAsync().ConfigureAwait(false);
        if (_mdnsDialer is not null)
            await _mdnsDialer.DisposeAsync().ConfigureAwait(false);
        await DisposePeersAsync().ConfigureAwait(false);
        await DisposeDiscoveryAsync().ConfigureAwait(false);
        await DisposeLimitedAsync().ConfigureAwait(false);
        await DisposePublicNetworkAsync().ConfigureAwait(false);
        Room[] rooms;
        Task[] background;
        lock (_gate)
        {
            rooms = [.. _rooms.Values];
            _rooms.Clear();
        }
        background = _background.Snapshot();
        foreach (Room room in rooms)
            await room.Subscription.DisposeAsync().ConfigureAwait(false);
        await _echoGo.DisposeAsync().ConfigureAwait(false);
        await _router.DisposeAsync().ConfigureAwait(false);
        await _host.DisposeAsync().ConfigureAwait(false);
        await Task.WhenAll([.. background, .. rooms.Select(r => r.Pump)]).WaitAsync(TimeSpan.FromSeconds(10))
            .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _events.Complete();
    }
}
