using System.Threading.Channels;
using Echo.Core.Chat;
using Echo.Core.Commands;
using Echo.Core.Conversations;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging;

namespace Echo.Core;

/// <summary>
/// The chat: rooms, nick, peers and messages, between the network (<see cref="IChatNetwork"/>) and
/// the user interfaces. Views call its methods (or <see cref="SubmitAsync"/> with a typed line) and
/// follow its <see cref="ChatEvent"/>s through <see cref="Subscribe"/>; every event reaches every
/// subscriber in one order. Failures of user requests become <see cref="ErrorEvent"/>s, never
/// exceptions, so a view only has to show them.
/// </summary>
public sealed partial class ChatManager : IAsyncDisposable
{
    private readonly IChatNetwork _network;
    private readonly IMessageStore? _store;
    private readonly SemaphoreSlim _roomsSaving = new(1, 1);
    private readonly ChatOptions _options;
    private readonly ILogger<ChatManager> _logger;
    private readonly Lock _gate = new();
    private readonly List<ChatSubscription> _subscribers = [];
    private readonly List<string> _rooms = [];
    private readonly Dictionary<string, ConversationLog<ChatMessage>> _scrollback = new(StringComparer.Ordinal);
    private readonly BoundedIdSet _seen;
    private readonly CancellationTokenSource _stopping = new();
    private readonly StoreHealth _storeHealth;
    private string _nick;
    private string? _currentRoom;
    private WebUiStartedEvent? _webUi;
    private Task _pump = Task.CompletedTask;
    private int _started;
    private int _disposed;

    /// <summary>
    /// Creates the chat over <paramref name="network"/>; nothing happens until <see cref="StartAsync"/>.
    /// With a <paramref name="store"/>, every message is stored before it is shown, joined rooms are
    /// remembered, and a room shows its last messages when joined. Direct messages and their outbox
    /// are kept in <paramref name="directStore"/> (in memory when null).
    /// </summary>
    public ChatManager(IChatNetwork network, ChatOptions options, ILogger<ChatManager> logger, IMessageStore? store = null,
        IDirectStore? directStore = null)
    {
        options.Validate();
        _network = network;
        _store = store;
        _options = options;
        _logger = logger;
        _nick = options.Nick;
        _seen = new BoundedIdSet(options.SeenMessageIds);
        _storeHealth = new StoreHealth(Publish);
        _historyWriter = new Rooms.RoomHistoryWriter(store, logger);
        _directory = new PeerDirectory(() => _network.LocalPeerId, PublishLocked);
        (_direct, _files) = CreateDirect(network, options, directStore, store, _storeHealth, Publish, logger);
    }

    /// <summary>Our peer id.</summary>
    public string LocalPeerId => _network.LocalPeerId;

    /// <summary>Addresses other peers can dial us at, each with /p2p/.</summary>
    public IReadOnlyList<string> ListenAddresses => _network.ListenAddresses;

    /// <summary>Cancelled when the user asked to quit (/quit) or the chat is disposed.</summary>
    public CancellationToken QuitRequested => _stopping.Token;

    /// <summary>Our current nick.</summary>
    public string Nick
    {
        get { lock (_gate) return _nick; }
    }

    /// <summary>The room typed text goes to, or null after leaving every room.</summary>
    public string? CurrentRoom
    {
        get { lock (_gate) return _currentRoom; }
    }

    /// <summary>Joined rooms, in the order they were joined.</summary>
    public IReadOnlyList<string> Rooms
    {
        get { lock (_gate) return [.. _rooms]; }
    }

    /// <summary>Connected peers, oldest connection first, then remembered peers that are away (<see cref="PeerInfo.IsAway"/>).</summary>
    public IReadOnlyList<PeerInfo> Peers
    {
        get { lock (_gate) return _directory.All; }
    }

    /// <summary>The last messages of <paramref name="room"/> kept in memory, oldest first.</summary>
    public IReadOnlyList<ChatMessage> RecentMessages(string room)
    {
        lock (_gate)
            return _scrollback.TryGetValue(room, out ConversationLog<ChatMessage>? log) ? [.. log.Items] : [];
    }

    /// <summary>The nick a peer uses now (announced, or from its messages), if known.</summary>
    public string? NickOf(string peerId)
    {
        lock (_gate)
            return _directory.NickOf(peerId);
    }

    /// <summary>Where the web UI serves this chat, once it announced itself; a view that starts later shows it from here.</summary>
    public WebUiStartedEvent? WebUi
    {
        get { lock (_gate) return _webUi; }
    }

    /// <summary>Tells every view where the web UI serves this chat (<see cref="WebUiStartedEvent"/>).</summary>
    public void AnnounceWebUi(string url, bool remote)
    {
        lock (_gate)
        {
            _webUi = new WebUiStartedEvent(url, remote);
            PublishLocked(_webUi);
        }
    }

    /// <summary>A new feed of events from now on. Subscribe before <see cref="StartAsync"/> to miss nothing.</summary>
    public ChatSubscription Subscribe()
    {
        ChatSubscription subscription = new(_options.SubscriberCapacity, Unsubscribe);
        lock (_gate)
            _subscribers.Add(subscription);
        return subscription;
    }

    /// <summary>
    /// Starts the network (throws <see cref="ChatNetworkException"/> if it cannot listen) and joins
    /// the default room.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("the chat is already started");
        await StartNicksAsync(cancellationToken).ConfigureAwait(false);
        await _network.StartAsync(cancellationToken).ConfigureAwait(false);
        _pump = PumpNetworkEventsAsync(_stopping.Token);
        Log.Started(_logger, _network.LocalPeerId, _nick);
        if (_store?.Problem is { } problem)
        {
            Publish(new ErrorEvent(problem));
            if (_store.IsReadOnly)
                _storeHealth.AlreadyTold();
        }
        foreach (string room in await SavedRoomsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (room != _options.DefaultRoom)
                await JoinAsync(room, makeCurrent: false, cancellationToken).ConfigureAwait(false);
        }
        StartDirect();
        await JoinAsync(_options.DefaultRoom, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Up to <paramref name="count"/> stored messages of <paramref name="room"/> older than
    /// <paramref name="before"/>, oldest first (for scrolling back past what is in memory); empty
    /// without a store or when there are none.
    /// </summary>
    public async Task<IReadOnlyList<ChatMessage>> LoadOlderAsync(string room, HistoryCursor before, int count,
        CancellationToken cancellationToken)
    {
        if (_store is null || count <= 0)
            return [];
        try
        {
            IReadOnlyList<ChatMessage> older = await _store.BeforeAsync(room, before, count, cancellationToken).ConfigureAwait(false);
            return [.. older.Select(m => m with { FromHistory = true })];
        }
        catch (MessageStoreException e)
        {
            Log.HistoryFailed(_logger, e.Message);
            return [];
        }
    }

    /// <summary>Runs one line as typed by the user: a slash command, or text for the current room.</summary>
    public Task SubmitAsync(string line, CancellationToken cancellationToken) => RunAsync(CommandParser.Parse(line), null, cancellationToken);

    /// <summary>
    /// Runs a command the user typed (parsed once by <see cref="CommandParser"/>) in
    /// <paramref name="conversation"/>, the conversation on the user's screen. In a direct
    /// conversation, text and a /send without a peer go to its peer; in a room (or null) text goes
    /// to the current room as the commands before it left it.
    /// </summary>
    public Task RunAsync(ChatCommand command, ConversationId? conversation, CancellationToken cancellationToken) =>
        (command, conversation?.PeerId) switch
        {
            (ChatCommand.Say say, { } peerId) => SendDirectAsync(peerId, say.Text, cancellationToken),
            (ChatCommand.Send { Target: null } send, { } peerId) => OfferFileAsync(send.Path, peerId, cancellationToken),
            (ChatCommand.Me me, { } peerId) => SendDirectActionAsync(peerId, me.Action, cancellationToken),
            _ => RunAsync(command, cancellationToken),
        };

    /// <summary>Runs a typed line a view already parsed (<see cref="CommandParser.Parse"/>), so it is parsed once.</summary>
    public Task RunAsync(ChatCommand command, CancellationToken cancellationToken) =>
        command switch
        {
            ChatCommand.Say say => SendAsync(say.Text, cancellationToken),
            ChatCommand.Connect connect => ConnectAsync(connect.Address, cancellationToken),
            ChatCommand.Join join => JoinAsync(join.Room, cancellationToken),
            ChatCommand.Leave leave => LeaveAsync(leave.Room, cancellationToken),
            ChatCommand.Nick nick => Run(() => SetNick(nick.Name)),
            ChatCommand.Msg msg => SendDirectAsync(msg.Target, msg.Text, cancellationToken),
            ChatCommand.Send send => OfferFileAsync(send.Path, send.Target, cancellationToken),
            ChatCommand.Get get => Run(() => GetFile(get.Id)),
            ChatCommand.Cancel cancel => Run(() => CancelFile(cancel.Id)),
            ChatCommand.Me me => SendActionAsync(me.Action, cancellationToken),
            ChatCommand.Away away => Run(() => SetAway(away.Reason)),
            ChatCommand.Whois whois => Run(() => Whois(whois.Target)),
            ChatCommand.Clear => Run(ClearScreen),
            ChatCommand.Peers => Run(ListPeers),
            ChatCommand.Forget forget => ForgetAsync(forget.Target, cancellationToken),
            ChatCommand.Rooms => Run(ListRooms),
            ChatCommand.Stats => Run(ShowStats),
            ChatCommand.Help => Run(() => Publish(new NoticeEvent(string.Join('\n', CommandParser.HelpLines)))),
            ChatCommand.Quit => Run(RequestQuit),
            ChatCommand.Invalid invalid => Run(() => Publish(new ErrorEvent(invalid.Message))),
            _ => Task.CompletedTask,
        };

    /// <summary>Sends <paramref name="text"/> to the current room; it is shown once the network took it.</summary>
    public Task SendAsync(string text, CancellationToken cancellationToken) => SendToRoomAsync(CurrentRoom, text, cancellationToken);

    /// <summary>
    /// Sends <paramref name="text"/> to <paramref name="conversation"/>: a joined room (shown once the
    /// network took it), or a peer (a direct message, which waits in the outbox while the peer is away).
    /// </summary>
    public Task SendAsync(ConversationId conversation, string text, CancellationToken cancellationToken)
    {
        if (conversation.PeerId is { } peerId)
            return SendDirectAsync(peerId, text, cancellationToken);
        string room = conversation.Name;
        lock (_gate)
        {
            if (!_rooms.Contains(room))
            {
                PublishLocked(new ErrorEvent($"not sent: you are not in {SafeText.ForDisplay(room)}; /join it first"));
                return Task.CompletedTask;
            }
        }
        return SendToRoomAsync(room, text, cancellationToken);
    }

    private async Task SendToRoomAsync(string? room, string text, CancellationToken cancellationToken)
    {
        if (ChatLimits.CheckText(text) is { } textError)
        {
            Publish(new ErrorEvent($"not sent: {textError}"));
            return;
        }
        if (room is null)
        {
            Publish(new ErrorEvent("not sent: you are in no room; /join <room> first"));
            return;
        }
        try
        {
            ChatMessage sent = await _network.PublishAsync(room, Nick, text, cancellationToken).ConfigureAwait(false);
            await AcceptAsync([sent], cancellationToken).ConfigureAwait(false);
        }
        catch (ChatNetworkException e)
        {
            Publish(new ErrorEvent($"not sent: {e.Message}"));
        }
    }

    /// <summary>Dials <paramref name="address"/> (a multiaddr, /p2p/ optional).</summary>
    public async Task ConnectAsync(string address, CancellationToken cancellationToken)
    {
        try
        {
            ConnectResult result = await DialAsync(address, cancellationToken).ConfigureAwait(false);
            Publish(new NoticeEvent(result.AlreadyConnected ? $"already connected to {result.PeerId}" : $"connected to {result.PeerId}"));
        }
        catch (ChatNetworkException e)
        {
            Publish(new ErrorEvent($"cannot connect to {SafeText.ForDisplay(address)}: {e.Message}"));
        }
    }

    /// <summary>Joins <paramref name="room"/> if needed and makes it the current room.</summary>
    public Task JoinAsync(string room, CancellationToken cancellationToken) => JoinAsync(room, makeCurrent: true, cancellationToken);

    private async Task JoinAsync(string room, bool makeCurrent, CancellationToken cancellationToken)
    {
        if (ChatLimits.CheckRoom(room) is { } roomError)
        {
            Publish(new ErrorEvent($"cannot join: {roomError}"));
            return;
        }
        bool joined;
        lock (_gate)
            joined = _rooms.Contains(room);
        if (!joined)
        {
            try
            {
                await _network.JoinRoomAsync(room, cancellationToken).ConfigureAwait(false);
            }
            catch (ChatNetworkException e)
            {
                Publish(new ErrorEvent($"cannot join {room}: {e.Message}"));
                return;
            }
            IReadOnlyList<ChatMessage> past = await LatestStoredAsync(room, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                if (!_rooms.Contains(room))
                {
                    _rooms.Add(room);
                    ConversationLog<ChatMessage> log = new(_options.ScrollbackPerRoom);
                    _scrollback[room] = log;
                    PublishLocked(new RoomJoinedEvent(room));
                    foreach (ChatMessage message in past)
                    {
                        _seen.Add(message.Id);
                        AddToLogLocked(log, _directory.Show(message), inPlace: false);
                    }
                }
            }
            await SaveRoomsAsync(cancellationToken).ConfigureAwait(false);
        }
        if (!makeCurrent)
            return;
        lock (_gate)
        {
            if (_currentRoom != room && _rooms.Contains(room))
            {
                _currentRoom = room;
                PublishLocked(new CurrentRoomChangedEvent(room));
            }
        }
    }

    /// <summary>Leaves <paramref name="room"/> (the current room when null).</summary>
    public async Task LeaveAsync(string? room, CancellationToken cancellationToken)
    {
        room ??= CurrentRoom;
        if (room is null || !Rooms.Contains(room))
        {
            Publish(new ErrorEvent(room is null ? "you are in no room" : $"you are not in {SafeText.ForDisplay(room)}"));
            return;
        }
        try
        {
            await _network.LeaveRoomAsync(room, cancellationToken).ConfigureAwait(false);
        }
        catch (ChatNetworkException e)
        {
            Publish(new ErrorEvent($"cannot leave {room}: {e.Message}"));
            return;
        }
        lock (_gate)
        {
            if (!_rooms.Remove(room))
                return;
            _scrollback.Remove(room);
            PublishLocked(new RoomLeftEvent(room));
            if (_currentRoom == room)
            {
                _currentRoom = _rooms.Count > 0 ? _rooms[^1] : null;
                if (_currentRoom is not null)
                    PublishLocked(new CurrentRoomChangedEvent(_currentRoom));
            }
        }
        await SaveRoomsAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Makes an already joined room the current one (no network traffic).</summary>
    public void SwitchRoom(string room)
    {
        lock (_gate)
        {
            if (!_rooms.Contains(room))
            {
                PublishLocked(new ErrorEvent($"you are not in {SafeText.ForDisplay(room)}; /join it first"));
                return;
            }
            if (_currentRoom == room)
                return;
            _currentRoom = room;
            PublishLocked(new CurrentRoomChangedEvent(room));
        }
    }

    /// <summary>Changes our nick; later messages carry it.</summary>
    public void SetNick(string nick)
    {
        if (ChatLimits.CheckNick(nick) is { } nickError)
        {
            Publish(new ErrorEvent($"nick unchanged: {nickError}"));
            return;
        }
        lock (_gate)
        {
            if (_nick == nick)
                return;
            string old = _nick;
            _nick = nick;
            PublishLocked(new NickChangedEvent(old, nick));
        }
        AnnounceNick(nick);
    }

    /// <summary>Ends the chat: every subscriber sees a <see cref="QuitEvent"/> and <see cref="QuitRequested"/> fires.</summary>
    public void RequestQuit()
    {
        if (Volatile.Read(ref _disposed) != 0)
            return;
        Publish(new QuitEvent());
        _stopping.Cancel();
    }

    private void ListPeers()
    {
        IReadOnlyList<PeerInfo> peers = Peers;
        if (peers.Count == 0)
        {
            Publish(new NoticeEvent("no peers connected; /connect <multiaddr> to add one"));
            return;
        }
        DateTimeOffset now = DateTimeOffset.UtcNow;
        IEnumerable<string> lines = peers.Select(p => p.IsAway
            ? $"{SafeText.ForDisplay(p.Label),-16} {p.PeerId}  {p.Address}  away, {p.ReconnectText(now)}" +
                $"  (last seen {p.ConnectedSince.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)})"
            : $"{SafeText.ForDisplay(p.Label),-16} {p.PeerId}  {p.Address}  {p.Source.ToString().ToLowerInvariant()}" +
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{(p.IsEchoGo ? " echo-go" : "")}  since {p.ConnectedSince.ToLocalTime():HH:mm:ss}") +
            (p.RoundTrip is { } rtt ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"  {rtt.TotalMilliseconds:0.0} ms") : "") +
            (p.AwayReason is { } reason ? $"  (away: {SafeText.ForDisplay(reason)})" : ""));
        Publish(new NoticeEvent($"{peers.Count} peer(s):\n" + string.Join('\n', lines)));
    }

    private void ListRooms()
    {
        lock (_gate)
        {
            PublishLocked(new NoticeEvent(_rooms.Count == 0
                ? "you are in no room; /join <room>"
                : "rooms: " + string.Join(", ", _rooms.Select(r => r == _currentRoom ? $"{r} (current)" : r))));
        }
    }

    /// <summary>
    /// Applies the network's events in order. Messages that are already waiting are taken together,
    /// so a burst costs one write to the store rather than one per message.
    /// </summary>
    private async Task PumpNetworkEventsAsync(CancellationToken cancellationToken)
    {
        ChannelReader<NetworkEvent> events = _network.Events;
        List<ChatMessage> batch = [];
        List<DirectArrived> directBatch = [];
        try
        {
            while (await events.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (batch.Count + directBatch.Count < MaxMessageBatch && events.TryRead(out NetworkEvent? networkEvent))
                {
                    if (networkEvent is MessageArrived arrived)
                    {
                        batch.Add(arrived.Message);
                        continue;
                    }
                    if (networkEvent is DirectArrived direct)
                    {
                        directBatch.Add(direct);   // stored together: one sync for a burst of direct messages
                        continue;
                    }
                    await AcceptAsync(batch, cancellationToken).ConfigureAwait(false);
                    batch.Clear();
                    await AcceptDirectAsync(directBatch, cancellationToken).ConfigureAwait(false);
                    directBatch.Clear();
                    await ApplyDirectAsync(networkEvent, cancellationToken).ConfigureAwait(false);
                    await ApplyHistoryAsync(networkEvent, cancellationToken).ConfigureAwait(false);
                    ApplyPeers(networkEvent);
                    ApplyIrc(networkEvent);
                }
                await AcceptAsync(batch, cancellationToken).ConfigureAwait(false);
                batch.Clear();
                await AcceptDirectAsync(directBatch, cancellationToken).ConfigureAwait(false);
                directBatch.Clear();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private const int MaxMessageBatch = 256;

    /// <summary>
    /// Records messages (ours or peers') and shows them, except duplicates and those of rooms we left.
    /// With a store they are on disk before they are shown; one the store already had (a late copy)
    /// is not shown again.
    /// </summary>
    private async Task AcceptAsync(IReadOnlyList<ChatMessage> messages, CancellationToken cancellationToken)
    {
        if (messages.Count == 0)
            return;
        List<ChatMessage> fresh = [];
        lock (_gate)
        {
            HashSet<string> batch = new(StringComparer.Ordinal);
            foreach (ChatMessage message in messages)
            {
                if (_scrollback.ContainsKey(message.Room) && !_seen.Contains(message.Id) && batch.Add(message.Id))
                    fresh.Add(message);
            }
        }
        fresh = WithinQuota(fresh);   // past an author's or peer's storage budget: counted and dropped
        if (fresh.Count == 0)
            return;
        IReadOnlyList<ChatMessage> toShow = fresh;
        if (_store is { IsReadOnly: false })
        {
            try
            {
                toShow = await _store.AddAsync(fresh, cancellationToken).ConfigureAwait(false);
                _storeHealth.Succeeded();
            }
            catch (MessageStoreException e)
            {
                Log.HistoryFailed(_logger, e.Message);
                _storeHealth.Failed(e.Message);   // told once; each message says "not saved"
                toShow = [.. fresh.Select(m => m with { NotSaved = true })];
            }
            // What the store already had is not shown now: it was stored and shown before (or in
            // an earlier run). History sync's pages are stored on this same loop (ChatManager.History.cs).
        }
        else if (_store is not null)
        {
            toShow = [.. fresh.Select(m => m with { NotSaved = true })];   // a read-only history keeps nothing new
        }
        lock (_gate)
        {
            foreach (ChatMessage stored in toShow)
            {
                if (!_scrollback.TryGetValue(stored.Room, out ConversationLog<ChatMessage>? log) || !_seen.Add(stored.Id))
                    continue;
                AddToLogLocked(log, _directory.Show(stored), inPlace: false);
            }
        }
    }

    /// <summary>Shows messages history sync stored: in their place in time in the room's log, as history to the views.</summary>
    private void ShowHistory(string room, IReadOnlyList<ChatMessage> messages)
    {
        lock (_gate)
        {
            if (!_scrollback.TryGetValue(room, out ConversationLog<ChatMessage>? log))
                return;
            foreach (ChatMessage arrived in messages)
            {
                if (arrived.Room != room || !_seen.Add(arrived.Id))
                    continue;
                AddToLogLocked(log, _directory.Show(arrived.FromHistory ? arrived : arrived with { FromHistory = true }), inPlace: true);
            }
        }
    }

    /// <summary>
    /// Puts a message in its room's log (at the end, or <paramref name="inPlace"/> in time for
    /// history) and tells the views, with the message it follows there.
    /// </summary>
    private void AddToLogLocked(ConversationLog<ChatMessage> log, ChatMessage message, bool inPlace)
    {
        if (log.Contains(message.Id))
            return;
        HistoryCursor place = HistoryCursor.Of(message);
        int at = inPlace ? log.Insert(message, message.Id, place) : log.Append(message, message.Id, place);
        PublishLocked(new MessageEvent(message) { After = at > 0 ? log.IdAt(at - 1) : null });
    }

    private async Task<IReadOnlyList<ChatMessage>> LatestStoredAsync(string room, CancellationToken cancellationToken)
    {
        if (_store is null || _options.HistoryOnJoin == 0)
            return [];
        try
        {
            IReadOnlyList<ChatMessage> latest = await _store.LatestAsync(room, _options.HistoryOnJoin, cancellationToken).ConfigureAwait(false);
            return [.. latest.Select(m => m with { FromHistory = true })];
        }
        catch (MessageStoreException e)
        {
            Log.HistoryFailed(_logger, e.Message);
            return [];
        }
    }

    private async Task<IReadOnlyList<string>> SavedRoomsAsync(CancellationToken cancellationToken)
    {
        if (_store is null)
            return [];
        try
        {
            return [.. (await _store.LoadRoomsAsync(cancellationToken).ConfigureAwait(false)).Where(r => ChatLimits.CheckRoom(r) is null)];
        }
        catch (MessageStoreException e)
        {
            Log.HistoryFailed(_logger, e.Message);
            return [];
        }
    }

    /// <summary>Remembers the joined rooms for the next start (one save at a time, so the last one wins).</summary>
    private async Task SaveRoomsAsync(CancellationToken cancellationToken)
    {
        if (_store is not { IsReadOnly: false })
            return;
        await _roomsSaving.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _store.SaveRoomsAsync(Rooms, cancellationToken).ConfigureAwait(false);
        }
        catch (MessageStoreException e)
        {
            Log.HistoryFailed(_logger, e.Message);
        }
        finally
        {
            _roomsSaving.Release();
        }
    }

    private void Publish(ChatEvent chatEvent)
    {
        lock (_gate)
            PublishLocked(chatEvent);
    }

    private void PublishLocked(ChatEvent chatEvent)
    {
        foreach (ChatSubscription subscriber in _subscribers)
            subscriber.Post(chatEvent);
    }

    private void Unsubscribe(ChatSubscription subscription)
    {
        lock (_gate)
            _subscribers.Remove(subscription);
    }

    private static Task Run(Action action)
    {
        action();
        return Task.CompletedTask;
    }

    /// <summary>Stops reading the network, completes every subscription and disposes the network.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        if (!_stopping.IsCancellationRequested)
            await _stopping.CancelAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
        await DisposeDirectAsync().ConfigureAwait(false);
        await _network.DisposeAsync().ConfigureAwait(false);
        lock (_gate)
        {
            foreach (ChatSubscription subscriber in _subscribers)
                subscriber.Complete();
            _subscribers.Clear();
        }
        _stopping.Dispose();
        _roomsSaving.Dispose();
    }
}
