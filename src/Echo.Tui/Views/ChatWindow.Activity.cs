using Echo.Core.Chat;
using Echo.Core.Conversations;
using Echo.Core.Ports;
using Echo.Tui.Activity;
using Echo.Tui.Rendering;

namespace Echo.Tui.Views;

/// <summary>
/// Activity on the chat screen: lines that mention you are highlighted, mentions and direct
/// messages from others ring the terminal bell and count in the terminal title until seen, the
/// room list (or, in a narrow terminal, the status line) shows what is unseen where, a read
/// marker shows where you left a conversation and a line marks each change of day.
/// </summary>
internal sealed partial class ChatWindow
{
    private readonly ActivityTracker _activity = new();
    private readonly Dictionary<ConversationId, DisplayLine> _readMarkers = [];
    private readonly HashSet<ConversationId> _marked = [];
    private readonly Dictionary<ConversationId, DateOnly> _lastDay = [];
    private string? _title;

    /// <summary>Writes to the terminal as it is (the bell, the title); null writes nothing (before the driver is up).</summary>
    public Action<string>? WriteRaw { get; set; }

    /// <summary>Whether a mention or a direct message from someone else rings the bell.</summary>
    public bool Bell { get; set; } = true;

    /// <summary>How many times the bell was rung (for tests and diagnostics).</summary>
    public int Bells { get; private set; }

    /// <summary>The terminal title as last set.</summary>
    public string TerminalTitle => _activity.Title(_current is null ? "no room" : ConversationTitle(_current));

    /// <summary>What is unseen in each conversation, by <see cref="ConversationId.Key"/>.</summary>
    public IReadOnlyDictionary<string, ConversationActivity> Unseen => _activity.Unseen;

    /// <summary>A message as drawn now: with the date when it is from another day, our nick highlighted.</summary>
    private DisplayLine Format(ChatMessage message) =>
        LineFormatter.Message(message, _manager.LocalPeerId, _clock.LocalTimeZone, _nick, Today);

    private DateOnly Today => LineFormatter.Day(_clock.GetUtcNow(), _clock.LocalTimeZone);

    /// <summary>Before a message is appended to <paramref name="buffer"/>: the read marker and the day-change line it needs.</summary>
    private void BeforeAppend(ConversationId conversation, ConversationLog<DisplayLine> buffer, ChatMessage message, bool live)
    {
        if (live && conversation != _current && _marked.Add(conversation))
        {
            // The first line since the user left: the marker moves here.
            if (_readMarkers.TryGetValue(conversation, out DisplayLine? old))
                buffer.RemoveNote(old);
            DisplayLine marker = LineFormatter.ReadMarker();
            _readMarkers[conversation] = marker;
            buffer.AppendNote(marker);
        }
        DateOnly day = LineFormatter.Day(message.Timestamp, _clock.LocalTimeZone);
        if (_lastDay.TryGetValue(conversation, out DateOnly last) && last != day && day > last)
        {
            DisplayLine change = LineFormatter.DayChange(day);
            buffer.AppendNote(change);
            if (conversation == _current)
                Scrollback.Appended(change);
        }
        if (!_lastDay.TryGetValue(conversation, out last) || day > last)
            _lastDay[conversation] = day;
    }

    /// <summary>
    /// Older messages (oldest first) as lines to put above <paramref name="shownOldest"/>, the oldest
    /// message shown: a day-change line wherever the day changes, also between the last of them and
    /// the first one shown.
    /// </summary>
    private List<(DisplayLine Item, string? Id, HistoryCursor Place)> WithDayLines(IReadOnlyList<ChatMessage> older,
        HistoryCursor? shownOldest)
    {
        List<(DisplayLine Item, string? Id, HistoryCursor Place)> lines = [];
        DateOnly? last = null;
        foreach (ChatMessage message in older)
        {
            DateOnly day = LineFormatter.Day(message.Timestamp, _clock.LocalTimeZone);
            if (last is { } before && day > before)
                lines.Add((LineFormatter.DayChange(day), null, lines[^1].Place));
            lines.Add((Format(message), message.Id, HistoryCursor.Of(message)));
            last = day;
        }
        if (last is { } newest && shownOldest is { } shown
            && LineFormatter.Day(DateTimeOffset.FromUnixTimeMilliseconds(shown.TimestampMs), _clock.LocalTimeZone) is var next
            && next > newest)
        {
            lines.Add((LineFormatter.DayChange(next), null, lines[^1].Place));
        }
        return lines;
    }

    /// <summary>After a message was added: counts it where it is unseen, rings and retitles for a live mention or direct message.</summary>
    private void Noticed(ConversationId conversation, ChatMessage message, bool live)
    {
        bool own = message.Origin == MessageOrigin.Local || message.SenderId == _manager.LocalPeerId;
        if (own)
            return;
        bool mention = live && Mentions.Contains(SafeText.ForDisplay(message.Text), _nick);
        ActivityLevel level = _activity.Add(conversation.Key, conversation == _current, isMessage: true,
            direct: live && conversation.IsDirect, mention);
        if (live && level is (ActivityLevel.Mention or ActivityLevel.Direct) && Bell)
        {
            Bells++;
            WriteRaw?.Invoke("\a");
        }
        ShowRooms();
        if (!_roomsFrame.Visible)
            ShowStatus();
        ShowTitle();
    }

    /// <summary>The conversation is on screen now; the one left behind gets a new read marker with its next line.</summary>
    private void Seen(ConversationId? left, ConversationId? shown)
    {
        if (left is not null && left != shown)
            _marked.Remove(left);
        if (shown is not null)
        {
            _activity.Seen(shown.Key);
            _marked.Add(shown);
        }
        ShowTitle();
    }

    private void Forget(ConversationId conversation)
    {
        _activity.Forget(conversation.Key);
        _readMarkers.Remove(conversation);
        _marked.Remove(conversation);
        _lastDay.Remove(conversation);
        ShowTitle();
    }

    /// <summary>Sets the terminal title (OSC 2) when it changed.</summary>
    private void ShowTitle()
    {
        string title = TerminalTitle;
        if (title == _title)
            return;
        _title = title;
        WriteRaw?.Invoke($"\u001b]2;{OscText(title)}\a");
    }

    /// <summary>Text for an OSC payload: no C0 or C1 control character (one would end or escape the sequence).</summary>
    internal static string OscText(string text) =>
        string.Concat(text.Where(c => c >= ' ' && c != '\u007f' && c is not (>= '\u0080' and <= '\u009f')));

    /// <summary>The activity list for the status line of a narrow terminal, irssi style: "Act: 2,3!,@bob".</summary>
    private IEnumerable<Span> ActivitySpans()
    {
        List<Span> entries = [];
        for (int i = 0; i < _rooms.Count; i++)
        {
            ConversationId room = _rooms[i];
            if (!_activity.Unseen.TryGetValue(room.Key, out ConversationActivity activity) || activity.Level == ActivityLevel.None)
                continue;
            string name = room.IsDirect ? "@" + SafeText.ForDisplay(NickOf(room.Name)) : (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            (string text, Tone tone) = activity.Level switch
            {
                ActivityLevel.Mention => (name + "!", Tone.Mention),
                ActivityLevel.Direct => (name, Tone.Direct),
                ActivityLevel.Message => (name, Tone.Text),
                _ => (name, Tone.Dim),
            };
            if (entries.Count > 0)
                entries.Add(new Span(",", Tone.Dim));
            entries.Add(new Span(text, tone));
        }
        if (entries.Count == 0)
            return [];
        return [new Span(" | Act: ", Tone.Dim), .. entries];
    }
}
