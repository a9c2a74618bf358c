using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Conversations;
using Echo.Core.Ports;
using Echo.Tui.Rendering;

namespace Echo.Tui.Views;

/// <summary>
/// /search on the chat screen: the stored lines of the room that contain the text (the whole
/// history, through Core's store) are listed in its scrollback, numbered, with their date; then
/// F3 and Shift+F3 (and, while the search is on and the input line empty, Enter or n and N) jump
/// to the next and previous of them in the room's lines. A result older than the lines loaded is
/// fetched first: the history from it up to what is shown is loaded above (PgUp's pages, bounded
/// by the scrollback). Esc ends the search.
/// </summary>
internal sealed partial class ChatWindow
{
    private ConversationId? _searchRoom;
    private string _searchText = "";
    private IReadOnlyList<ChatMessage> _searchResults = [];
    private int _searchAt = -1;

    /// <summary>
    /// Asked to load the room's history from <c>HistoryCursor</c> (a search result) up to the oldest
    /// line shown, then to call <see cref="ShowLoadedResult"/>; null when nothing can load it.
    /// </summary>
    public Action<string, HistoryCursor>? LoadBackTo { get; set; }

    /// <summary>True while a search with results is on in the conversation shown (n, N and Enter on an empty input line navigate).</summary>
    public bool Searching => _searchRoom is not null && _searchRoom == _current && _searchResults.Count > 0;

    /// <summary>Which result is shown (1-based; 0 before the first jump) and how many there are.</summary>
    public (int At, int Count) SearchPosition => (_searchAt + 1, _searchResults.Count);

    /// <summary>Ctrl+R: starts a /search in the input line.</summary>
    public void StartSearch()
    {
        if (!Input.Text.StartsWith("/search ", StringComparison.OrdinalIgnoreCase))
            Input.Text = "/search ";
        Input.SetFocus();
    }

    /// <summary>Ends the search mode (Esc, or a key typed that is no navigation); the results stay listed.</summary>
    public void EndSearch()
    {
        if (_searchRoom is null)
            return;
        _searchRoom = null;
        _searchResults = [];
        _searchAt = -1;
        ShowStatus();
    }

    /// <summary>Lists the results of a search in <paramref name="room"/> (oldest first). UI thread only.</summary>
    public void ShowSearch(string room, string text, IReadOnlyList<ChatMessage> found)
    {
        ConversationId conversation = ConversationId.Room(room);
        if (!_buffers.TryGetValue(conversation, out ConversationLog<DisplayLine>? buffer))
            return;
        _searchRoom = found.Count > 0 ? conversation : null;
        _searchText = text;
        _searchResults = found;
        _searchAt = -1;
        List<DisplayLine> lines = [.. LineFormatter.Notice(ChatManager.SearchSummary(room, text, found.Count)
            + (found.Count > 0 ? "; F3/Shift+F3 (or Enter, n/N) jump to the next/previous one, Esc ends" : ""),
            _clock.GetUtcNow(), _clock.LocalTimeZone)];
        for (int i = 0; i < found.Count; i++)
        {
            DisplayLine line = LineFormatter.Message(found[i], _manager.LocalPeerId, _clock.LocalTimeZone, _nick,
                today: DateOnly.MinValue); // always with the date: results span days
            string number = $"  [{i + 1}] ";
            lines.Add(new DisplayLine([new Span(number, Tone.Notice), .. line.Spans], line.Indent + Columns.Of(number)));
        }
        foreach (DisplayLine line in lines)
        {
            buffer.AppendNote(line);
            if (conversation == _current)
                Scrollback.Appended(line);
        }
        if (conversation == _current)
            Scrollback.ScrollToEnd();
        ShowStatus();
    }

    /// <summary>
    /// F3, n, Enter (+1) and Shift+F3, N (-1): shows the next or previous search result in the room's
    /// lines, wrapping around; one older than the lines loaded is loaded first.
    /// </summary>
    public void JumpToResult(int step)
    {
        if (!Searching || _searchRoom?.RoomName is not { } room)
            return;
        int count = _searchResults.Count;
        _searchAt = _searchAt < 0 ? (step >= 0 ? 0 : count - 1) : ((_searchAt + step) % count + count) % count;
        ShowStatus();
        if (ScrollToResult())
            return;
        ChatMessage result = _searchResults[_searchAt];
        if (_buffers.TryGetValue(_searchRoom, out ConversationLog<DisplayLine>? buffer)
            && (buffer.Oldest is not { } oldest || HistoryCursor.Of(result) < oldest) && LoadBackTo is { } load)
        {
            load(room, HistoryCursor.Of(result));
            return;
        }
        Notice($"result [{_searchAt + 1}] is not among the lines shown");
    }

    /// <summary>After <see cref="LoadBackTo"/> put the history above: shows the result asked for, or says it is too far back.</summary>
    public void ShowLoadedResult(string room)
    {
        if (!Searching || _searchRoom?.RoomName != room || _searchAt < 0 || ScrollToResult())
            return;
        Notice($"result [{_searchAt + 1}] is further back than the {_scrollbackLines} lines the scrollback keeps");
    }

    /// <summary>Scrolls to the current result when its line is loaded.</summary>
    private bool ScrollToResult()
    {
        if (_searchRoom is null || _searchAt < 0 || !_buffers.TryGetValue(_searchRoom, out ConversationLog<DisplayLine>? buffer))
            return false;
        string id = _searchResults[_searchAt].Id;
        for (int i = 0; i < buffer.Count; i++)
        {
            if (buffer.IdAt(i) == id)
            {
                Scrollback.ScrollToLine(i);
                return true;
            }
        }
        return false;
    }

    /// <summary>The status line's search part: which result of how many, and the keys.</summary>
    private IEnumerable<Span> SearchSpans() =>
        Searching
            ? [new Span($" | search \"{SafeText.ForDisplay(_searchText)}\" {(_searchAt < 0 ? "-" : (_searchAt + 1).ToString(System.Globalization.CultureInfo.InvariantCulture))}/{_searchResults.Count} n/N Esc", Tone.Highlight)]
            : [];
}
