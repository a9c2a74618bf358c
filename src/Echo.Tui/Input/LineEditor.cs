using System.Globalization;
using System.Text;
using Echo.Tui.Rendering;
using Terminal.Gui.Drawing;

namespace Echo.Tui.Input;

/// <summary>
/// The input line's text, cursor and kill buffer, edited the way readline does. The text is kept as
/// graphemes with their terminal widths, so a key costs work in proportion to what it changes (a
/// typed character at the end is an append), never to the length of the line; the view draws only
/// the window around the cursor that <see cref="ScrollFor"/> picks.
/// </summary>
internal sealed class LineEditor
{
    /// <summary>The most UTF-16 units the line holds; more typed or pasted text is refused.</summary>
    public const int DefaultMaxLength = 16_384;

    private readonly List<string> _graphemes = [];
    private readonly List<int> _widths = [];
    private readonly int _maxLength;
    private int _length; // UTF-16 units in _graphemes
    private int _scroll; // first grapheme shown
    private bool _lastWasKill;

    public LineEditor(int maxLength = DefaultMaxLength)
    {
        _maxLength = maxLength;
    }

    /// <summary>The cursor, as an index into the graphemes (0 = before the first).</summary>
    public int Cursor { get; private set; }

    /// <summary>Graphemes in the line.</summary>
    public int Count => _graphemes.Count;

    /// <summary>UTF-16 units in the line.</summary>
    public int Length => _length;

    /// <summary>What the last kill (or run of kills) removed: what Ctrl+Y inserts.</summary>
    public string KillBuffer { get; private set; } = "";

    /// <summary>The whole line. Built on each call: for submitting and completion, not per key.</summary>
    public string Text
    {
        get => string.Concat(_graphemes);
        set
        {
            Clear();
            Insert(value);
        }
    }

    /// <summary>The text before the cursor.</summary>
    public string TextBeforeCursor => string.Concat(_graphemes.Take(Cursor));

    /// <summary>The grapheme at <paramref name="index"/>.</summary>
    public string this[int index] => _graphemes[index];

    /// <summary>Empties the line (the kill buffer stays).</summary>
    public void Clear()
    {
        _graphemes.Clear();
        _widths.Clear();
        _length = 0;
        Cursor = 0;
        _scroll = 0;
        _lastWasKill = false;
    }

    /// <summary>
    /// Inserts <paramref name="text"/> at the cursor; control characters become spaces. Returns false
    /// when nothing (or not all of it) fit under the length limit.
    /// </summary>
    public bool Insert(string text)
    {
        _lastWasKill = false;
        if (text.Length == 0)
            return true;
        string clean = Sanitize(text);
        bool complete = true;
        int room = _maxLength - _length;
        if (clean.Length > room)
        {
            complete = false;
            clean = CutAt(clean, room);
            if (clean.Length == 0)
                return false;
        }
        // A combining mark, a skin-tone modifier or the next part of a ZWJ sequence joins the
        // grapheme before the cursor: segment it again together with what is inserted.
        string before = Cursor > 0 ? _graphemes[Cursor - 1] : "";
        int start = Cursor > 0 ? Cursor - 1 : Cursor;
        if (before.Length > 0)
            RemoveRange(start, 1);
        List<string> parts = [.. GraphemeHelper.GetGraphemes(before + clean)];
        _graphemes.InsertRange(start, parts);
        _widths.InsertRange(start, parts.Select(Columns.OfGrapheme));
        foreach (string part in parts)
            _length += part.Length;
        Cursor = start + parts.Count;
        return complete;
    }

    /// <summary>Moves the cursor to <paramref name="index"/> (clamped).</summary>
    public void MoveTo(int index)
    {
        _lastWasKill = false;
        Cursor = Math.Clamp(index, 0, _graphemes.Count);
    }

    public void Home() => MoveTo(0);

    public void End() => MoveTo(_graphemes.Count);

    public void Left() => MoveTo(Cursor - 1);

    public void Right() => MoveTo(Cursor + 1);

    /// <summary>Alt+B: to the start of this or the previous word.</summary>
    public void WordLeft() => MoveTo(PreviousWordStart(Cursor, IsWordGrapheme));

    /// <summary>Alt+F: to the end of this or the next word.</summary>
    public void WordRight() => MoveTo(NextWordEnd(Cursor, IsWordGrapheme));

    /// <summary>Backspace: deletes the grapheme before the cursor.</summary>
    public void Backspace()
    {
        _lastWasKill = false;
        if (Cursor == 0)
            return;
        RemoveRange(Cursor - 1, 1);
        Cursor--;
    }

    /// <summary>Delete: deletes the grapheme under the cursor.</summary>
    public void Delete()
    {
        _lastWasKill = false;
        if (Cursor < _graphemes.Count)
            RemoveRange(Cursor, 1);
    }

    /// <summary>Ctrl+U: kills from the start of the line to the cursor.</summary>
    public void KillToStart() => Kill(0, Cursor, prepend: true);

    /// <summary>Ctrl+K: kills from the cursor to the end of the line.</summary>
    public void KillToEnd() => Kill(Cursor, _graphemes.Count, prepend: false);

    /// <summary>Ctrl+W: kills the whitespace-delimited word before the cursor.</summary>
    public void KillWordBack() => Kill(PreviousWordStart(Cursor, g => !IsSpace(g)), Cursor, prepend: true);

    /// <summary>Alt+D: kills from the cursor to the end of the next word.</summary>
    public void KillWordForward() => Kill(Cursor, NextWordEnd(Cursor, IsWordGrapheme), prepend: false);

    /// <summary>Ctrl+Y: inserts the kill buffer at the cursor.</summary>
    public void Yank()
    {
        string text = KillBuffer;
        Insert(text);
    }

    /// <summary>Replaces graphemes [<paramref name="start"/>, cursor) with <paramref name="text"/> (completion).</summary>
    public void ReplaceBeforeCursor(int start, string text)
    {
        start = Math.Clamp(start, 0, Cursor);
        RemoveRange(start, Cursor - start);
        Cursor = start;
        Insert(text);
    }

    /// <summary>
    /// The first grapheme to draw so that the cursor shows in a row of <paramref name="width"/>
    /// columns; moves only as far as needed (the window stays put while the cursor is inside it).
    /// </summary>
    public int ScrollFor(int width)
    {
        if (width <= 1)
            return _scroll = Cursor;
        _scroll = Math.Min(_scroll, Cursor);
        // The cursor needs its own cell after the graphemes before it.
        int columns = 1;
        int first = Cursor;
        while (first > _scroll && columns + _widths[first - 1] <= width)
        {
            columns += _widths[first - 1];
            first--;
        }
        _scroll = first;
        return _scroll;
    }

    /// <summary>The columns grapheme <paramref name="index"/> takes.</summary>
    public int WidthOf(int index) => _widths[index];

    /// <summary>The index of the grapheme that starts the word the cursor is in or after, as completion sees it.</summary>
    public int WordStartBeforeCursor() => PreviousWordStart(Cursor, g => !IsSpace(g));

    private void Kill(int start, int end, bool prepend)
    {
        if (end <= start)
        {
            _lastWasKill = true;
            return;
        }
        string killed = string.Concat(_graphemes.Skip(start).Take(end - start));
        // Kills in a row add up, as in readline: Ctrl+W Ctrl+W then Ctrl+Y gives both words back.
        KillBuffer = _lastWasKill ? (prepend ? killed + KillBuffer : KillBuffer + killed) : killed;
        RemoveRange(start, end - start);
        if (Cursor > start)
            Cursor = Math.Max(start, Cursor - (end - start));
        _lastWasKill = true;
    }

    private void RemoveRange(int start, int count)
    {
        for (int i = start; i < start + count; i++)
            _length -= _graphemes[i].Length;
        _graphemes.RemoveRange(start, count);
        _widths.RemoveRange(start, count);
        _scroll = Math.Min(_scroll, _graphemes.Count);
    }

    private int PreviousWordStart(int from, Func<string, bool> inWord)
    {
        int i = from;
        while (i > 0 && !inWord(_graphemes[i - 1]))
            i--;
        while (i > 0 && inWord(_graphemes[i - 1]))
            i--;
        return i;
    }

    private int NextWordEnd(int from, Func<string, bool> inWord)
    {
        int i = from;
        while (i < _graphemes.Count && !inWord(_graphemes[i]))
            i++;
        while (i < _graphemes.Count && inWord(_graphemes[i]))
            i++;
        return i;
    }

    private static bool IsSpace(string grapheme) => grapheme.Length > 0 && char.IsWhiteSpace(grapheme[0]);

    /// <summary>Letters, digits and anything beyond the basic plane (emoji) are word; punctuation and spaces are not.</summary>
    private static bool IsWordGrapheme(string grapheme)
    {
        if (grapheme.Length == 0)
            return false;
        Rune rune = Rune.GetRuneAt(grapheme, 0);
        UnicodeCategory category = Rune.GetUnicodeCategory(rune);
        return Rune.IsLetterOrDigit(rune) || category is UnicodeCategory.OtherSymbol || grapheme[0] == '_';
    }

    private static string Sanitize(string text)
    {
        bool clean = true;
        foreach (char c in text)
        {
            if (char.IsControl(c))
            {
                clean = false;
                break;
            }
        }
        if (clean)
            return text;
        StringBuilder builder = new(text.Length);
        foreach (char c in text)
            builder.Append(char.IsControl(c) ? ' ' : c);
        return builder.ToString();
    }

    /// <summary>At most <paramref name="units"/> UTF-16 units of <paramref name="text"/>, never half a surrogate pair.</summary>
    private static string CutAt(string text, int units)
    {
        if (units <= 0)
            return "";
        if (units < text.Length && char.IsHighSurrogate(text[units - 1]))
            units--;
        return text[..units];
    }
}
