using Echo.Core.Chat;
using Echo.Core.Conversations;
using Echo.Core.Events;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging;

namespace Echo.Core.Rooms;

/// <summary>
/// The chat's rooms: join, leave, switch, send; one <see cref="ConversationLog{T}"/> of messages
/// per joined room; the joined rooms remembered in the store. It is the one writer of room messages
/// to the history, live (ours and peers') and synced (the pages history sync fetched), all on the
/// chat's one network loop, so nothing races it: a message is stored before it is shown, a burst is
/// stored in one write, and a page's receipt is settled after the store returned, so history sync
/// advances only past what is on disk. The rooms keep their order (joined, or as moved with /move)
/// and the current room across restarts.
/// </summary>
public sealed class RoomChat : IDisposable
{
    /// <summary>Why a page is refused when the chat has no history store.</summary>
    public const string NoStore = "the chat keeps no history";

    private readonly IChatNetwork _network;
    private readonly IMessageStore? _store;
    private readonly ChatOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate;
    private readonly Action<ChatEvent> _publishLocked;
    private readonly Func<ChatMessage, ChatMessage> _show;
    private readonly StoreHealth _storeHealth;
    private readonly SemaphoreSlim _roomsSaving = new(1, 1);
    private readonly BackgroundTasks _saves = new();
    private readonly List<string> _rooms = [];
    private readonly Dictionary<string, ConversationLog<ChatMessage>> _scrollback = new(StringComparer.Ordinal);
    private readonly BoundedIdSet _seen;
    private string? _currentRoom;

    /// <summary>
    /// Rooms on their own, telling nobody (e.g. to store history sync's pages as the chat does,
    /// without the rest of the chat).
    /// </summary>
    public RoomChat(IChatNetwork network, IMessageStore? store, ChatOptions options, ILogger logger)
        : this(network, store, options, logger, new Lock(), _ => { }, m => m, new StoreHealth(_ => { }))
    {
    }

    /// <summary>Which new messages from the network may be stored (the chat's storage quota); all by default.</summary>
    internal Func<List<ChatMessage>, List<ChatMessage>> Admit { get; init; } = static messages => messages;

    /// <summary>The chat's rooms, under the chat's lock.</summary>
    /// <param name="gate">The chat's lock: the rooms' state and every event are under it, so every subscriber sees one order.</param>
    /// <param name="publishLocked">Tells the views; called under <paramref name="gate"/>.</param>
    /// <param name="show">The message as views show it (the sender's label); called under <paramref name="gate"/>.</param>
    internal RoomChat(IChatNetwork network, IMessageStore? store, ChatOptions options, ILogger logger, Lock gate,
        Action<ChatEvent> publishLocked, Func<ChatMessage, ChatMessage> show, StoreHealth storeHealth)
    {
        _network = network;
        _store = store;
        _options = options;
        _logger = logger;
        _gate = gate;
        _publishLocked = publishLocked;
        _show = show;
        _storeHealth = storeHealth;
        _seen = new BoundedIdSet(options.SeenMessageIds);
    }

    /// <summary>The room typed text goes to, or null after leaving every room.</summary>
    public string? CurrentRoom
    {
        get { lock (_gate) return _currentRoom; }
    }

    /// <summary>Joined rooms, in the order they were joined (or as moved with /move).</summary>
    public IReadOnlyList<string> Rooms
    {
        get { lock (_gate) return [.. _rooms]; }
    }

    /// <summary>True when <paramref name="room"/> is joined.</summary>
    public bool IsJoined(string room)
    {
        lock (_gate)
            return _rooms.Contains(room);
    }

    /// <summary>The last messages of <paramref name="room"/> kept in memory, oldest first.</summary>
    public IReadOnlyList<ChatMessage> RecentMessages(string room)
    {
        lock (_gate)
            return _scrollback.TryGetValue(room, out ConversationLog<ChatMessage>? log) ? [.. log.Items] : [];
    }

    /// <summary>
    /// Joins the rooms of the last run in their order, the default room in its place among them (or
    /// after them when it was not among them), none of them made current yet (<see cref="RestoreCurrentAsync"/>).
    /// </summary>
    internal async Task JoinSavedAsync(CancellationToken cancellationToken)
    {
        List<string> rooms = [.. await SavedRoomsAsync(cancellationToken).ConfigureAwait(false)];
        if (!rooms.Contains(_options.DefaultRoom))
            rooms.Add(_options.DefaultRoom);
        foreach (string room in rooms)
            await JoinAsync(room, makeCurrent: false, save: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Makes the room that was current in the last run current again (the default room when it is not joined), then saves the rooms.</summary>
    internal async Task RestoreCurrentAsync(CancellationToken cancellationToken)
    {
        string? saved = null;
        if (_store is not null)
        {
            try
            {
                saved = await _store.LoadCurrentRoomAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (MessageStoreException e)
            {
                Log.HistoryFailed(_logger, e.Message);
            }
        }
        lock (_gate)
        {
            string room = saved is not null && _rooms.Contains(saved) ? saved : _options.DefaultRoom;
            MakeCurrentLocked(room);
        }
        await SaveRoomsAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Up to <paramref name="count"/> stored messages of <paramref name="room"/> older than
    /// <paramref name="before"/>, oldest first; empty without a store or when there are none.
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

    /// <summary>Sends <paramref name="text"/> to <paramref name="room"/> if it is joined (an error otherwise).</summary>
    internal Task SendToJoinedAsync(string room, string nick, string text, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_rooms.Contains(room))
            {
                _publishLocked(new ErrorEvent($"not sent: you are not in {SafeText.ForDisplay(room)}; /join it first"));
                return Task.CompletedTask;
            }
        }
        return SendAsync(room, nick, text, cancellationToken);
    }

    /// <summary>Sends <paramref name="text"/> to <paramref name="room"/> (null: in no room); it is shown once the network took it.</summary>
    internal async Task SendAsync(string? room, string nick, string text, CancellationToken cancellationToken)
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
            ChatMessage sent = await _network.PublishAsync(room, nick, text, cancellationToken).ConfigureAwait(false);
            await AcceptAsync([sent], cancellationToken).ConfigureAwait(false);
        }
        catch (ChatNetworkException e)
        {
            Publish(new ErrorEvent($"not sent: {e.Message}"));
        }
    }

    /// <summary>Joins <paramref name="room"/> if needed and (<paramref name="makeCurrent"/>) makes it the current room.</summary>
    internal Task JoinAsync(string room, bool makeCurrent, CancellationToken cancellationToken) =>
        JoinAsync(room, makeCurrent, save: true, cancellationToken);

    private async Task JoinAsync(string room, bool makeCurrent, bool save, CancellationToken cancellationToken)
    {
        if (ChatLimits.CheckRoom(room) is { } roomError)
        {
            Publish(new ErrorEvent($"cannot join: {roomError}"));
            return;
        }
        bool joined;
        lock (_gate)
            joined = _rooms.Contains(room);
        bool changed = false;
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
                    changed = true;
                    _rooms.Add(room);
                    ConversationLog<ChatMessage> log = new(_options.ScrollbackPerRoom);
                    _scrollback[room] = log;
                    _publishLocked(new RoomJoinedEvent(room));
                    foreach (ChatMessage message in past)
                    {
                        _seen.Add(message.Id);
                        AddToLogLocked(log, _show(message), inPlace: false);
                    }
                }
            }
        }
        if (makeCurrent)
        {
            lock (_gate)
                changed |= MakeCurrentLocked(room);
        }
        if (changed && save)
            await SaveRoomsAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Makes a joined <paramref name="room"/> current and tells the views; false when it already was (or is not joined).</summary>
    private bool MakeCurrentLocked(string room)
    {
        if (_currentRoom == room || !_rooms.Contains(room))
            return false;
        _currentRoom = room;
        _publishLocked(new CurrentRoomChangedEvent(room));
        return true;
    }

    /// <summary>Leaves <paramref name="room"/> (the current room when null).</summary>
    internal async Task LeaveAsync(string? room, CancellationToken cancellationToken)
    {
        room ??= CurrentRoom;
        if (room is null || !IsJoined(room))
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
            _publishLocked(new RoomLeftEvent(room));
            if (_currentRoom == room)
            {
                _currentRoom = _rooms.Count > 0 ? _rooms[^1] : null;
                if (_currentRoom is not null)
                    _publishLocked(new CurrentRoomChangedEvent(_currentRoom));
            }
        }
        await SaveRoomsAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Makes an already joined room the current one (no network traffic); remembered for the next start.</summary>
    internal void Switch(string room)
    {
        lock (_gate)
        {
            if (!_rooms.Contains(room))
            {
                _publishLocked(new ErrorEvent($"you are not in {SafeText.ForDisplay(room)}; /join it first"));
                return;
            }
            if (!MakeCurrentLocked(room))
                return;
        }
        _saves.Track(SaveRoomsAsync(CancellationToken.None));   // waited for when the chat stops
    }

    /// <summary>
    /// Moves <paramref name="room"/> (the current room when null) to 1-based <paramref name="position"/>
    /// among the rooms (the last place when past the end); the order is remembered for the next start.
    /// </summary>
    internal async Task MoveAsync(string? room, int position, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            room ??= _currentRoom;
            if (room is null || !_rooms.Contains(room))
            {
                _publishLocked(new ErrorEvent(room is null ? "you are in no room" : $"you are not in {SafeText.ForDisplay(room)}"));
                return;
            }
            if (position < 1)
            {
                _publishLocked(new ErrorEvent($"no position {position.ToString(System.Globalization.CultureInfo.InvariantCulture)}; rooms are numbered from 1"));
                return;
            }
            int to = Math.Min(position, _rooms.Count) - 1;
            if (_rooms.IndexOf(room) == to)
                return;
            _rooms.Remove(room);
            _rooms.Insert(to, room);
            _publishLocked(new RoomsReorderedEvent([.. _rooms]));
        }
        await SaveRoomsAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>/rooms: the joined rooms, the current one marked.</summary>
    internal void List()
    {
        lock (_gate)
        {
            _publishLocked(new NoticeEvent(_rooms.Count == 0
                ? "you are in no room; /join <room>"
                : "rooms: " + string.Join(", ", _rooms.Select(r => r == _currentRoom ? $"{r} (current)" : r))));
        }
    }

    /// <summary>
    /// Records messages (ours or peers') and shows them, except duplicates and those of rooms we left.
    /// With a store they are on disk before they are shown, in one write for the batch; one the store
    /// already had (a late copy) is not shown again.
    /// </summary>
    internal async Task AcceptAsync(IReadOnlyList<ChatMessage> messages, CancellationToken cancellationToken)
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
        fresh = Admit(fresh);
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
            // an earlier run). History sync's pages are stored on this same loop (AcceptPageAsync).
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
                AddToLogLocked(log, _show(stored), inPlace: false);
            }
        }
    }

    /// <summary>
    /// A page history sync fetched: stored (with the sync position it ends at, in one transaction)
    /// and its receipt settled, then what was new shown in its place in time, as history. Returns
    /// the messages the store did not have yet (all of them without a store, none when the store failed).
    /// </summary>
    public async Task<IReadOnlyList<ChatMessage>> AcceptPageAsync(HistoryPageFetched page, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(page);
        IReadOnlyList<ChatMessage> added = await StorePageAsync(page, cancellationToken).ConfigureAwait(false);
        if (added.Count > 0)
            ShowHistory(page.Room, added);
        return added;
    }

    private async Task<IReadOnlyList<ChatMessage>> StorePageAsync(HistoryPageFetched page, CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            page.Receipt?.Refused(NoStore);   // shown once (the chat drops what it showed), fetched again next time
            return page.Messages;
        }
        try
        {
            IReadOnlyList<ChatMessage> messages = [.. page.Messages.Where(m => m.Room == page.Room)];
            IReadOnlyList<ChatMessage> added = page switch
            {
                { Position: { } position } => await _store.AddSyncedAsync(page.Room, page.PeerId, messages, position, cancellationToken)
                    .ConfigureAwait(false),
                { TimeCursor: { } cursor } => await _store.AddSyncedAsync(page.Room, page.PeerId, messages, cursor, cancellationToken)
                    .ConfigureAwait(false),
                _ => await _store.AddAsync(messages, cancellationToken).ConfigureAwait(false),   // a page without a position: only its messages to keep
            };
            page.Receipt?.Stored(added.Count);
            return added;
        }
        catch (MessageStoreException e)
        {
            Log.HistoryFailed(_logger, e.Message);
            page.Receipt?.Refused(e.Message);
            return [];
        }
        catch (OperationCanceledException)
        {
            page.Receipt?.Refused("the chat is stopping");
            throw;
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
                AddToLogLocked(log, _show(arrived.FromHistory ? arrived : arrived with { FromHistory = true }), inPlace: true);
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
        _publishLocked(new MessageEvent(message) { After = at > 0 ? log.IdAt(at - 1) : null });
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

    /// <summary>
    /// Remembers the joined rooms, their order and the current one for the next start (one save at a
    /// time, each of the state when it runs, so the last one wins).
    /// </summary>
    private async Task SaveRoomsAsync(CancellationToken cancellationToken)
    {
        if (_store is not { IsReadOnly: false })
            return;
        await _roomsSaving.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            IReadOnlyList<string> rooms;
            string? current;
            lock (_gate)
            {
                rooms = [.. _rooms];
                current = _currentRoom;
            }
            await _store.SaveRoomsAsync(rooms, current, cancellationToken).ConfigureAwait(false);
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
            _publishLocked(chatEvent);
    }

    /// <summary>Waits (a few seconds at most) for the saves a room switch started, before the store closes.</summary>
    internal Task DrainAsync() => _saves.DrainAsync(TimeSpan.FromSeconds(5));

    /// <summary>Releases the lock that orders the saves (after the chat stopped).</summary>
    public void Dispose() => _roomsSaving.Dispose();
}
