using Echo.Core.Commands;

namespace Echo.Tui.Input;

/// <summary>What Tab can complete to: nicks of known peers, joined rooms, command names.</summary>
internal sealed record CompletionSources(IReadOnlyList<string> Nicks, IReadOnlyList<string> Rooms)
{
    /// <summary>The command names /help lists ("/join", …), in its order.</summary>
    public static IReadOnlyList<string> Commands { get; } =
    [
        .. CommandParser.HelpLines
            .Select(line => line.Split(' ', 2)[0])
            .Where(word => word.Length > 1 && word[0] == '/')
            .Distinct(StringComparer.Ordinal),
    ];
}

/// <summary>
/// Tab completion as irssi and weechat do it: the word before the cursor is completed to a command
/// (a "/" word at the start of the line), a room (a "#" word) or a nick (anything else; at the start
/// of the line the nick gets ": "). Tab again cycles through the other matches; any other key ends
/// the cycle.
/// </summary>
internal sealed class Completer
{
    private List<string> _matches = [];
    private int _index;
    private int _wordStart;
    private int _cursorAfter = -1;
    private int _countAfter = -1;

    /// <summary>True while Tab is cycling through matches.</summary>
    public bool Cycling => _cursorAfter >= 0;

    /// <summary>Completes (or cycles) the word before the cursor; false when nothing matches.</summary>
    public bool Complete(LineEditor editor, CompletionSources sources)
    {
        if (Cycling && editor.Cursor == _cursorAfter && editor.Count == _countAfter && _matches.Count > 0)
        {
            _index = (_index + 1) % _matches.Count;
            Apply(editor);
            return true;
        }

        Reset();
        int start = editor.WordStartBeforeCursor();
        string word = string.Concat(Enumerable.Range(start, editor.Cursor - start).Select(i => editor[i]));
        if (word.Length == 0)
            return false;
        bool atLineStart = start == 0;
        List<string> matches = Candidates(word, atLineStart, sources);
        if (matches.Count == 0)
            return false;
        _matches = matches;
        _index = 0;
        _wordStart = start;
        Apply(editor);
        return true;
    }

    /// <summary>Ends a cycle (called for every key that is not Tab).</summary>
    public void Reset()
    {
        _matches = [];
        _cursorAfter = -1;
        _countAfter = -1;
    }

    private void Apply(LineEditor editor)
    {
        editor.ReplaceBeforeCursor(_wordStart, _matches[_index]);
        _cursorAfter = editor.Cursor;
        _countAfter = editor.Count;
    }

    private static List<string> Candidates(string word, bool atLineStart, CompletionSources sources)
    {
        if (word[0] == '/' && atLineStart)
            return Matching(CompletionSources.Commands, word, suffix: " ");
        if (word[0] == '#')
            return Matching([.. sources.Rooms.Select(room => "#" + room)], word, suffix: " ");
        return Matching(sources.Nicks, word, suffix: atLineStart ? ": " : " ");
    }

    private static List<string> Matching(IEnumerable<string> names, string prefix, string suffix) =>
    [
        .. names
            .Where(name => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.OrdinalIgnoreCase)
            .Select(name => name + suffix),
    ];
}
