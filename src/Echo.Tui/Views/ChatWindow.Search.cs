using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Conversations;
using Echo.Tui.Rendering;

namespace Echo.Tui.Views;

/// <summary>
/// /search on the chat screen: the stored lines of the room that contain the text are listed in
/// its scrollback, numbered, with their date; F3 and Shift+F3 jump to the next and previous of
/// them among the room's lines.
/// </summary>
internal sealed partial class ChatWindow
{
    private ConversationId? _searchRoom;
    private IReadOnlyList<string> _searchIds = [];
    private int _searchAt = -1;

    /// <summary>Ctrl+R: starts a /search in the input line.</summary>
    public void StartSearch()
    {
        if (!Input.Text.StartsWith("/search ", StringComparison.OrdinalIgnoreCase))
            Input.Text = "/search ";
        Input.SetFocus();
    }

    /// <summary>Lists the results of a search in <paramref name="room"/> (oldest first). UI thread only.</summary>
    public void ShowSearch(string room, string text, IReadOnlyList<ChatMessage> found)
    {
        ConversationId conversation = ConversationId.Room(room);
        if (!_buffers.TryGetValue(conversation, out ConversationLog<DisplayLine>? buffer))
            return;
        _searchRoom = conversation;
        _searchIds = [.. found.Select(m => m.Id)];
        _searchAt = -1;
        List<DisplayLine> lines = [.. LineFormatter.Notice(ChatManager.SearchSummary(room, text, found.Count)
            + (found.Count > 0 ? "; F3/Shift+F3 jump to the next/previous one" : ""), _clock.GetUtcNow(), _clock.LocalTimeZone)];
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
    }

    /// <summary>F3 (+1) and Shift+F3 (-1): shows the next or previous search result in the room's lines.</summary>
    public void JumpToResult(int step)
    {
        if (_searchRoom is null || _searchRoom != _current || _searchIds.Count == 0
            || !_buffers.TryGetValue(_searchRoom, out ConversationLog<DisplayLine>? buffer))
            return;
        _searchAt = _searchAt < 0 ? (step > 0 ? 0 : _searchIds.Count - 1)
            : ((_searchAt + step) % _searchIds.Count + _searchIds.Count) % _searchIds.Count;
        string id = _searchIds[_searchAt];
        for (int i = 0; i < buffer.Count; i++)
        {
            if (buffer.IdAt(i) == id)
            {
                Scrollback.ScrollToLine(i);
                return;
            }
        }
        Notice($"result [{_searchAt + 1}] is older than the lines loaded: PgUp at the top loads older ones");
    }
}
