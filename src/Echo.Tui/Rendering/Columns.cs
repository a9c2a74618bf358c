using Terminal.Gui.Drawing;
using Terminal.Gui.Text;

namespace Echo.Tui.Rendering;

/// <summary>
/// Terminal column arithmetic: wide characters take two columns, combining marks none, a grapheme
/// (an emoji ZWJ sequence, a flag) the columns Terminal.Gui gives it. One exception is drawn
/// differently instead of measured differently: Terminal.Gui gives an emoji skin-tone modifier
/// (U+1F3FB..U+1F3FF) no cell, while tmux and xterm draw it in two of its own, so "👍🏽" would push
/// the rest of its row two columns right. Views draw text through <see cref="ForTerminal"/>, which
/// leaves the modifiers out (the emoji shows in its default tone; the message itself keeps them).
/// </summary>
internal static class Columns
{
    /// <summary>The columns <paramref name="text"/> takes on a terminal.</summary>
    public static int Of(string text) => text.GetColumns();

    /// <summary><paramref name="text"/> as the views hand it to the terminal: without emoji skin-tone modifiers.</summary>
    public static string ForTerminal(string text) => WithoutModifiers(text);

    /// <summary>True when <paramref name="text"/> holds an emoji skin-tone modifier.</summary>
    public static bool HasModifier(string text)
    {
        // U+1F3FB..U+1F3FF is D83C DFFB..D83C DFFF in UTF-16.
        for (int i = text.IndexOf('\uD83C', StringComparison.Ordinal); i >= 0 && i + 1 < text.Length; i = text.IndexOf('\uD83C', i + 1))
        {
            if (IsModifierAt(text, i))
                return true;
        }
        return false;
    }

    /// <summary><paramref name="text"/> without emoji skin-tone modifiers.</summary>
    public static string WithoutModifiers(string text)
    {
        if (!HasModifier(text))
            return text;
        System.Text.StringBuilder builder = new(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (IsModifierAt(text, i))
                i++;
            else
                builder.Append(text[i]);
        }
        return builder.ToString();
    }

    private static bool IsModifierAt(string text, int index) =>
        index + 1 < text.Length && text[index] == '\uD83C' && text[index + 1] is >= '\uDFFB' and <= '\uDFFF';

    /// <summary>The columns one grapheme takes (at least 1, so a cursor always advances).</summary>
    public static int OfGrapheme(string grapheme) => Math.Max(1, grapheme.GetColumns());

    /// <summary>
    /// Cuts <paramref name="text"/> to at most <paramref name="width"/> columns, ending with "…"
    /// when it had to cut.
    /// </summary>
    public static string Truncate(string text, int width)
    {
        if (width <= 0)
            return "";
        if (Of(text) <= width)
            return text;
        System.Text.StringBuilder builder = new();
        int used = 0;
        foreach (string grapheme in GraphemeHelper.GetGraphemes(text))
        {
            int columns = OfGrapheme(grapheme);
            if (used + columns > width - 1)
                break;
            builder.Append(grapheme);
            used += columns;
        }
        return builder.Append('…').ToString();
    }

    /// <summary>
    /// Splits a line into rows of at most <paramref name="width"/> columns; rows after the first
    /// start <paramref name="indent"/> columns in. Breaks at the last space when there is one in
    /// the row, else mid-word.
    /// </summary>
    public static List<IReadOnlyList<Span>> Wrap(DisplayLine line, int width)
    {
        List<IReadOnlyList<Span>> rows = [];
        if (width <= 0)
            return rows;
        // Continuation rows line up under the text; when the prefix is too wide for that (a long
        // nick on a narrow screen), under the time column's end instead.
        int indent = line.Indent <= width / 2 ? line.Indent
            : line.Spans.Count > 0 && Of(line.Spans[0].Text) <= width / 2 ? Of(line.Spans[0].Text) : 0;
        List<(string Grapheme, Tone Tone, int Colour)> cells = [];
        foreach (Span span in line.Spans)
        {
            foreach (string grapheme in GraphemeHelper.GetGraphemes(span.Text))
                cells.Add((grapheme, span.Tone, span.Colour));
        }

        // The prefix (time, nick) is never a place to break: a long first word breaks mid-word instead.
        int textStart = 0;
        for (int columns = 0; textStart < cells.Count && columns < line.Indent; textStart++)
            columns += OfGrapheme(cells[textStart].Grapheme);

        int start = 0;
        bool first = true;
        while (start < cells.Count || first)
        {
            int available = first ? width : width - indent;
            int used = 0;
            int end = start;
            int lastSpace = -1;
            while (end < cells.Count)
            {
                int columns = OfGrapheme(cells[end].Grapheme);
                if (used + columns > available)
                    break;
                if (cells[end].Grapheme == " ")
                    lastSpace = end;
                used += columns;
                end++;
            }
            if (end < cells.Count && lastSpace > start && (!first || lastSpace >= textStart))
                end = lastSpace + 1;
            if (end == start && start < cells.Count)
                end = start + 1; // a grapheme wider than the row: show it anyway
            List<Span> row = [];
            if (!first && indent > 0)
                row.Add(new Span(new string(' ', indent), Tone.Text));
            for (int i = start; i < end; i++)
            {
                (string grapheme, Tone tone, int colour) = cells[i];
                if (row.Count > 0 && row[^1].Tone == tone && row[^1].Colour == colour)
                    row[^1] = row[^1] with { Text = row[^1].Text + grapheme };
                else
                    row.Add(new Span(grapheme, tone, colour));
            }
            rows.Add(row);
            start = end;
            first = false;
            // a continuation row does not start with the space it broke at
            while (start < cells.Count && cells[start].Grapheme == " " && start > 0)
                start++;
        }
        return rows;
    }
}
