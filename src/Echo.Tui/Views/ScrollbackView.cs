using Echo.Tui.Rendering;
using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace Echo.Tui.Views;

/// <summary>
/// The lines of one room, newest at the bottom, wrapped to the width there is. Follows new lines
/// unless the user scrolled up (PageUp, mouse wheel); then it stays put and says so on its last row.
/// </summary>
internal sealed class ScrollbackView : View
{
    private IReadOnlyList<DisplayLine> _lines = [];
    private int _offset; // rows scrolled up from the bottom
    private bool _atTop;

    public ScrollbackView()
    {
        CanFocus = false;
    }

    /// <summary>Rows scrolled up from the newest line (0 = following).</summary>
    public int Offset => _offset;

    /// <summary>True when the oldest line is on screen (as last drawn): there is nothing above to scroll to.</summary>
    public bool AtTop => _atTop;

    /// <summary>Shows <paramref name="lines"/> (the buffer itself: later appends show up), scrolled to the bottom.</summary>
    public void Show(IReadOnlyList<DisplayLine> lines)
    {
        _lines = lines;
        _offset = 0;
        SetNeedsDraw();
    }

    /// <summary>Called after <paramref name="line"/> was appended to the shown buffer.</summary>
    public void Appended(DisplayLine line)
    {
        if (_offset > 0)
            _offset += Columns.Wrap(line, Math.Max(1, Viewport.Width)).Count; // keep the rows the user reads in place
        SetNeedsDraw();
    }

    /// <summary>Scrolls by pages: positive is up (older), negative down (newer).</summary>
    public void ScrollPages(int pages)
    {
        int page = Math.Max(1, Viewport.Height - 1);
        ScrollRows(pages * page);
    }

    /// <summary>Scrolls by rows: positive is up (older), negative down (newer).</summary>
    public void ScrollRows(int rows)
    {
        _offset = Math.Max(0, _offset + rows); // the upper bound is applied when drawing, where the wrapped height is known
        SetNeedsDraw();
    }

    /// <summary>Back to the newest line.</summary>
    public void ScrollToEnd()
    {
        _offset = 0;
        SetNeedsDraw();
    }

    /// <summary>Scrolls so that line <paramref name="index"/> of the shown lines is about in the middle of the view.</summary>
    public void ScrollToLine(int index)
    {
        int width = Math.Max(1, Viewport.Width);
        int below = 0;
        for (int i = _lines.Count - 1; i > index && i >= 0; i--)
            below += Columns.Wrap(_lines[i], width).Count;
        _offset = Math.Max(0, below - Math.Max(0, Viewport.Height / 2 - 1));
        SetNeedsDraw();
    }

    /// <summary>The rows currently on screen, top to bottom, as plain text (for tests and diagnostics).</summary>
    public IReadOnlyList<string> VisibleRows()
    {
        (List<IReadOnlyList<Span>> rows, _) = Layout(Viewport.Width, Viewport.Height);
        return [.. rows.Select(r => string.Concat(r.Select(s => s.Text)))];
    }

    protected override bool OnDrawingContent(DrawContext? context)
    {
        int width = Viewport.Width;
        int height = Viewport.Height;
        if (width <= 0 || height <= 0)
            return true;
        Attribute normal = GetAttributeForRole(VisualRole.Normal);
        (List<IReadOnlyList<Span>> rows, bool moreBelow) = Layout(width, height);
        for (int row = 0; row < height; row++)
        {
            int used = 0;
            if (moreBelow && row == height - 1)
                used = SpanDrawing.DrawRow(this, row, [new Span($"-- {_offset} more row(s) below: PgDn --", Tone.Dim)], normal);
            else if (row < rows.Count)
                used = SpanDrawing.DrawRow(this, row, rows[row], normal);
            SpanDrawing.FillRow(this, row, used, normal);
        }
        return true;
    }

    protected override bool OnMouseEvent(Mouse mouse)
    {
        if (mouse.Flags.HasFlag(MouseFlags.WheeledUp))
        {
            ScrollRows(3);
            return true;
        }
        if (mouse.Flags.HasFlag(MouseFlags.WheeledDown))
        {
            ScrollRows(-3);
            return true;
        }
        return base.OnMouseEvent(mouse);
    }

    /// <summary>The rows to show, top to bottom, and whether newer rows are hidden below.</summary>
    private (List<IReadOnlyList<Span>> Rows, bool MoreBelow) Layout(int width, int height)
    {
        if (width <= 0 || height <= 0)
            return ([], false);
        // Wrap from the newest line back until the screen and the scrolled-over rows are covered.
        List<IReadOnlyList<Span>> reversed = [];
        int needed = height + _offset;
        int index = _lines.Count - 1;
        for (; index >= 0 && reversed.Count < needed; index--)
        {
            List<IReadOnlyList<Span>> wrapped = Columns.Wrap(_lines[index], width);
            for (int i = wrapped.Count - 1; i >= 0; i--)
                reversed.Add(wrapped[i]);
        }
        if (index < 0)
            _offset = Math.Min(_offset, Math.Max(0, reversed.Count - height)); // cannot scroll above the oldest line
        _atTop = index < 0 && _offset >= reversed.Count - height;
        int skip = _offset;
        int take = Math.Min(height, Math.Max(0, reversed.Count - skip));
        List<IReadOnlyList<Span>> rows = reversed.GetRange(skip, take);
        rows.Reverse();
        return (rows, _offset > 0);
    }
}
