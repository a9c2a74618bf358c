using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Conversations;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.Tui.Input;
using Echo.Tui.Rendering;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Terminal.Gui.Views;

namespace Echo.Tui.Views;

/// <summary>
/// The whole chat screen: the current conversation's scrollback, the room and peer lists, the input
/// line and the status line. It only changes on the UI thread, through <see cref="Apply"/> and the
/// user's keys; what the user types goes to <c>submit</c> with the conversation it was typed in.
/// Each conversation's lines are a <see cref="ConversationLog{T}"/> of drawn lines, kept in the
/// order and with the bounds Core keeps its messages in, with notices in between.
/// </summary>
internal sealed partial class ChatWindow : Runnable
{
    /// <summary>Side panel width; below <see cref="NarrowWidth"/> columns the panel is hidden.</summary>
    public const int SideWidth = 30;

    private const int NarrowWidth = 70;
    private const int MaxRoomRows = 9;

    private readonly ChatManager _manager;
    private readonly Action<string, ConversationId?> _submit;
    private readonly TimeProvider _clock;
    private readonly int _scrollbackLines;
    private readonly List<ConversationId> _rooms = [];
    private readonly Dictionary<ConversationId, ConversationLog<DisplayLine>> _buffers = [];
    private readonly List<PeerInfo> _peers = [];
    private readonly ConversationLog<DisplayLine> _homeless; // notices while in no room
    private ConversationId? _current;
    private string _nick;

    private readonly FrameView _scrollFrame;
    private readonly FrameView _roomsFrame;
    private readonly FrameView _peersFrame;

    public ChatWindow(ChatManager manager, Action<string, ConversationId?> submit, TimeProvider clock, int scrollbackLines)
    {
        _manager = manager;
        _submit = submit;
        _clock = clock;
        _scrollbackLines = scrollbackLines;
        _homeless = NewLog();
        _nick = manager.Nick;
        Width = Dim.Fill();
        Height = Dim.Fill();

        Scrollback = new ScrollbackView { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill() };
        _scrollFrame = new FrameView { X = 0, Y = 0, Width = Dim.Fill(SideWidth), Height = Dim.Fill(2), Title = "echo" };
        _scrollFrame.Add(Scrollback);

        Label prompt = new() { X = 0, Y = Pos.AnchorEnd(2), Width = 2, Height = 1, Text = "> " };
        Input = new InputLine { X = 2, Y = Pos.AnchorEnd(2), Width = Dim.Fill(), Height = 1 };
        Input.Submitted += OnSubmitted;
        Input.CompletionSources = CompletionSources;

        Rooms = new RoomListView { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill() };
        Rooms.RoomChosen += room =>
        {
            Choose(room);
            Input.SetFocus();
        };
        Rooms.Label = NickOf;
        // F6 moves between the input line and the room list (Tab completes in the input line).
        _roomsFrame = new FrameView
        {
            X = Pos.AnchorEnd(SideWidth), Y = 0, Width = SideWidth, Height = 3, Title = "Rooms",
            CanFocus = true, TabStop = TabBehavior.TabStop,
        };
        _roomsFrame.Add(Rooms);

        Peers = new PeerListView { X = 0, Y = 0, Width = Dim.Fill(), Height = Dim.Fill() };
        _peersFrame = new FrameView { X = Pos.AnchorEnd(SideWidth), Y = Pos.Bottom(_roomsFrame), Width = SideWidth, Height = Dim.Fill(2), Title = "Peers" };
        _peersFrame.Add(Peers);

        Status = new StatusLine { X = 0, Y = Pos.AnchorEnd(1), Width = Dim.Fill() };

        Add(_scrollFrame, _roomsFrame, _peersFrame, prompt, Input, Status);
        FrameChanged += (_, _) => FitToWidth();

        LoadSnapshot();
        Input.SetFocus();
    }

    public ScrollbackView Scrollback { get; }

    public RoomListView Rooms { get; }

    public PeerListView Peers { get; }

    public InputLine Input { get; }

    public StatusLine Status { get; }

    /// <summary>The room shown, or null when in no room or in a direct conversation.</summary>
    public string? CurrentRoom => _current?.RoomName;

    /// <summary>The conversation shown, or null when in no room.</summary>
    public ConversationId? Current => _current;

    /// <summary>Applies chat events in order. UI thread only.</summary>
    public void Apply(IEnumerable<ChatEvent> events)
    {
        foreach (ChatEvent chatEvent in events)
            Apply(chatEvent);
    }

    /// <summary>Applies one chat event. UI thread only.</summary>
    public void Apply(ChatEvent chatEvent)
    {
        switch (chatEvent)
        {
            case MessageEvent { Message: var message }:
                AddMessage(ConversationId.Room(message.Room), message);
                break;
            case PeerConnectedEvent { Peer: var peer }:
                UpsertPeer(peer);
                Notice($"{SafeText.ForDisplay(peer.Nick ?? "peer")} {SafeText.ForDisplay(peer.ShortId)} connected ({SafeText.ForDisplay(peer.Address)})");
                break;
            case PeerUpdatedEvent { Peer: var peer }:
                UpsertPeer(peer);
                break;
            case PeerDisconnectedEvent { Peer: var peer }:
                if (_peers.RemoveAll(p => p.PeerId == peer.PeerId) > 0)
                {
                    ShowPeers();
                    Notice($"{SafeText.ForDisplay(peer.Nick ?? "peer")} {SafeText.ForDisplay(peer.ShortId)} disconnected");
                }
                break;
            case RoomJoinedEvent { Room: var room }:
                if (!_rooms.Contains(ConversationId.Room(room)))
                    _rooms.Add(ConversationId.Room(room));
                // Said in the new room, which becomes the current one right after.
                foreach (DisplayLine line in LineFormatter.Notice($"joined #{SafeText.ForDisplay(room)}", _clock.GetUtcNow(), _clock.LocalTimeZone))
                    AddTo(ConversationId.Room(room), line);
                ShowRooms();
                break;
            case RoomLeftEvent { Room: var room }:
                _rooms.Remove(ConversationId.Room(room));
                _buffers.Remove(ConversationId.Room(room));
                Forget(ConversationId.Room(room));
                if (_current == ConversationId.Room(room))
                    SwitchTo(null);
                Notice($"left #{SafeText.ForDisplay(room)}");
                ShowRooms();
                break;
            case CurrentRoomChangedEvent { Room: var room }:
                SwitchTo(ConversationId.Room(room));
                break;
            case RoomsReorderedEvent { Rooms: var order }:
                ReorderRooms(order);
                break;
            case NickChangedEvent changed:
                _nick = changed.NewNick;
                Notice($"you are now {SafeText.ForDisplay(changed.NewNick)}");
                ShowStatus();
                break;
            case NoticeEvent { Text: var text }:
                AddSystem(LineFormatter.Notice(text, _clock.GetUtcNow(), _clock.LocalTimeZone));
                break;
            case ErrorEvent { Message: var message }:
                AddSystem(LineFormatter.Error(message, _clock.GetUtcNow(), _clock.LocalTimeZone));
                break;
            case WebUiStartedEvent web:
                Notice(WebUiNotice(web));
                break;
            case ReachabilityEvent reachability:
                ShowReachability(reachability);
                break;
            case DhtEvent dht:
                ShowDht(dht);
                break;
            case RelaysEvent relays:
                ShowRelays(relays);
                break;
            default:
                ApplyDirect(chatEvent);
                break;
        }
    }

    /// <summary>Shows an error that did not come from the chat (e.g. a failed submit).</summary>
    public void ShowError(string message) =>
        AddSystem(LineFormatter.Error(message, _clock.GetUtcNow(), _clock.LocalTimeZone));

    /// <summary>Switches to the next (+1) or previous (-1) room, wrapping around.</summary>
    public void CycleRoom(int step)
    {
        if (_rooms.Count == 0)
            return;
        int index = _current is null ? 0 : _rooms.IndexOf(_current);
        int next = ((index + step) % _rooms.Count + _rooms.Count) % _rooms.Count;
        Choose(_rooms[next]);
    }

    /// <summary>F6: moves the focus from the input line to the room list and back.</summary>
    public void CycleFocus()
    {
        if (Input.HasFocus && _roomsFrame.Visible)
            Rooms.SetFocus();
        else
            Input.SetFocus();
    }

    /// <summary>Puts the rooms in <paramref name="order"/> (/move), each in a place a room had; direct conversations keep theirs.</summary>
    private void ReorderRooms(IReadOnlyList<string> order)
    {
        Queue<ConversationId> rooms = new(order.Select(ConversationId.Room).Where(_rooms.Contains));
        for (int i = 0; i < _rooms.Count && rooms.Count > 0; i++)
        {
            if (_rooms[i].IsRoom)
                _rooms[i] = rooms.Dequeue();
        }
        ShowRooms();
    }

    /// <summary>Switches to the room at 1-based <paramref name="number"/> in the list, if there is one.</summary>
    public void SwitchToNumber(int number)
    {
        if (number >= 1 && number <= _rooms.Count)
            Choose(_rooms[number - 1]);
    }

    private void LoadSnapshot()
    {
        foreach (string room in _manager.Rooms)
        {
            _rooms.Add(ConversationId.Room(room));
            ConversationLog<DisplayLine> buffer = Buffer(ConversationId.Room(room));
            foreach (ChatMessage message in _manager.RecentMessages(room))
            {
                BeforeAppend(ConversationId.Room(room), buffer, message, live: false);
                buffer.Append(Format(message), message.Id, HistoryCursor.Of(message));
            }
        }
        _peers.AddRange(_manager.Peers);
        _current = _manager.CurrentRoom is { } current ? ConversationId.Room(current) : null;
        ShowRooms();
        ShowPeers();
        Show();
        Notice($"you are {SafeText.ForDisplay(_nick)} ({SafeText.ForDisplay(PeerInfo.ShortPeerId(_manager.LocalPeerId))}); /help lists the commands");
        if (_manager.WebUi is { } web)
            Notice(WebUiNotice(web));
    }

    private static string WebUiNotice(WebUiStartedEvent web) =>
        $"web UI: {web.Url}" + (web.Remote ? "\nit listens beyond this machine: anyone with this URL can use your chat" : "");

    private void AddTo(ConversationId conversation, DisplayLine line)
    {
        Buffer(conversation).AppendNote(line);
        if (conversation == _current)
            Scrollback.Appended(line);
    }

    /// <summary>Where the oldest message shown in <paramref name="room"/> is, to load older ones from the history; null when none is shown.</summary>
    public HistoryCursor? OldestShown(string room) =>
        _buffers.TryGetValue(ConversationId.Room(room), out ConversationLog<DisplayLine>? buffer) ? buffer.Oldest : null;

    /// <summary>Puts <paramref name="older"/> (oldest first, all older than what is shown) above the room's lines. UI thread only.</summary>
    public void PrependOlder(string room, IReadOnlyList<ChatMessage> older)
    {
        ConversationId conversation = ConversationId.Room(room);
        if (!_buffers.TryGetValue(conversation, out ConversationLog<DisplayLine>? buffer) || older.Count == 0)
            return;
        buffer.Prepend(WithDayLines(older, buffer.Oldest));
        if (conversation == _current)
            Scrollback.SetNeedsDraw();
    }

    private void AddMessage(ConversationId conversation, ChatMessage message, bool countUnread = true)
    {
        ConversationLog<DisplayLine> buffer = Buffer(conversation);
        if (buffer.Contains(message.Id))
            return; // already there from the snapshot taken at start
        DisplayLine line = Format(message);
        bool live = countUnread && !message.FromHistory;
        // History (fetched from peers) can be older than what is shown: it goes in its place in time.
        if (message.FromHistory)
        {
            buffer.Insert(line, message.Id, HistoryCursor.Of(message));
        }
        else
        {
            BeforeAppend(conversation, buffer, message, live);
            buffer.Append(line, message.Id, HistoryCursor.Of(message));
        }
        if (conversation == _current)
            Scrollback.Appended(line);
        if (countUnread)
            Noticed(conversation, message, live);
    }

    private void Notice(string text) =>
        AddSystem(LineFormatter.Notice(text, _clock.GetUtcNow(), _clock.LocalTimeZone));

    /// <summary>Notices and errors go where the user is looking: the current room.</summary>
    private void AddSystem(IEnumerable<DisplayLine> lines)
    {
        ConversationLog<DisplayLine> target = _current is not null && _buffers.TryGetValue(_current, out ConversationLog<DisplayLine>? buffer)
            ? buffer
            : _homeless;
        foreach (DisplayLine line in lines)
        {
            target.AppendNote(line);
            Scrollback.Appended(line);
        }
    }

    private void SwitchTo(ConversationId? room)
    {
        ConversationId? left = _current;
        _current = room;
        Seen(left, room);
        if (room is not null)
        {
            ConversationLog<DisplayLine> buffer = Buffer(room);
            if (_homeless.Count > 0)
            {
                // Whatever was said while in no room (e.g. "left #x") shows in the room we land in.
                foreach (DisplayLine line in _homeless.Items)
                    buffer.AppendNote(line);
                _homeless.Clear();
            }
        }
        Show();
        ShowRooms();
    }

    private void Show()
    {
        ConversationLog<DisplayLine> shown = _current is not null ? Buffer(_current) : _homeless;
        Scrollback.Show(shown.Items);
        _scrollFrame.Title = _current is null ? "no room: /join <room>" : Columns.ForTerminal(ConversationTitle(_current));
        ShowStatus();
    }

    private ConversationLog<DisplayLine> Buffer(ConversationId conversation)
    {
        if (!_buffers.TryGetValue(conversation, out ConversationLog<DisplayLine>? buffer))
        {
            buffer = NewLog();
            _buffers[conversation] = buffer;
        }
        return buffer;
    }

    /// <summary>A conversation's drawn lines: trimmed a tenth at a time, not one line per message.</summary>
    private ConversationLog<DisplayLine> NewLog() => new(_scrollbackLines, trimChunk: _scrollbackLines / 10);

    private void UpsertPeer(PeerInfo peer)
    {
        int index = _peers.FindIndex(p => p.PeerId == peer.PeerId);
        if (index >= 0)
            _peers[index] = peer;
        else
            _peers.Add(peer);
        ShowPeers();
    }

    /// <summary>Counts down the "reconnecting in Ns" of away peers (called every second); nothing when none is away.</summary>
    public void RefreshAwayPeers()
    {
        if (_peers.Exists(p => p.IsAway))
            ShowPeers();
    }

    private void ShowPeers()
    {
        Peers.Update(_peers, _clock.GetUtcNow());
        _peersFrame.Title = PeersTitle();
        ShowStatus();
    }

    private void ShowRooms()
    {
        Rooms.Update([.. _rooms], _current, _activity.Unseen);
        _roomsFrame.Height = Math.Clamp(_rooms.Count, 1, MaxRoomRows) + 2;
    }

    private void ShowStatus()
    {
        string listen = LineFormatter.ListenSummary(_manager.ListenAddresses);
        // Most important first: a narrow terminal cuts the end off.
        Status.Update(
        [
            new Span(" " + (_current is null ? "no room" : ConversationTitle(_current)), Tone.Highlight),
            .. SearchSpans(),
            .. _roomsFrame.Visible ? [] : ActivitySpans(),
            .. TransferSpans(),
            new Span(" | ", Tone.Dim),
            new Span(SafeText.ForDisplay(_nick), Tone.Highlight),
            new Span(" | ", Tone.Dim),
            new Span(_peers.Count == 1 ? "1 peer" : $"{_peers.Count} peers", Tone.Text),
            new Span(" | ", Tone.Dim),
            new Span(SafeText.ForDisplay(PeerInfo.ShortPeerId(_manager.LocalPeerId)), Tone.Text),
            new Span(" | ", Tone.Dim),
            new Span(listen, Tone.Text),
            .. ReachabilitySpans(),
            .. DhtSpans(),
            new Span(" | ^N/^P Alt+1-9 room  PgUp/PgDn scroll  Tab complete  F6 rooms  ^R search  ^Q quit", Tone.Dim),
        ]);
    }

    private void OnSubmitted(string line)
    {
        Scrollback.ScrollToEnd();
        _submit(line, _current);
    }

    /// <summary>What Tab completes to: the nicks of known peers and the rooms joined.</summary>
    private CompletionSources CompletionSources() =>
        new([.. _peers.Select(p => p.Nick).OfType<string>()], [.. _rooms.Select(r => r.RoomName).OfType<string>()]);

    private void FitToWidth()
    {
        bool side = Frame.Width >= NarrowWidth;
        if (_roomsFrame.Visible == side)
            return;
        _roomsFrame.Visible = side;
        _peersFrame.Visible = side;
        _scrollFrame.Width = Dim.Fill(side ? SideWidth : 0);
        ShowStatus();
    }
}
