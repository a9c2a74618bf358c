using Echo.Tui.Rendering;
using Terminal.Gui.Drawing;
using Terminal.Gui.ViewBase;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace Echo.Tui.Views;

/// <summary>Draws styled spans into a view's viewport, clipped to its width.</summary>
internal static class SpanDrawing
{
    /// <summary>Draws <paramref name="spans"/> on <paramref name="row"/> from column 0; returns the columns used.</summary>
    public static int DrawRow(View view, int row, IEnumerable<Span> spans, Attribute normal, Func<Span, Attribute, Attribute>? style = null)
    {
        int width = view.Viewport.Width;
        int column = 0;
        foreach (Span span in spans)
        {
            if (column >= width)
                break;
            string text = Columns.Truncate(span.Text, width - column);
            if (text.Length == 0)
                continue;
            view.SetAttribute((style ?? Palette.For)(span, normal));
            view.Move(column, row);
            view.AddStr(Columns.ForTerminal(text));
            column += Columns.Of(text);
        }
        return column;
    }

    /// <summary>Fills the rest of <paramref name="row"/> from <paramref name="column"/> with spaces in <paramref name="attribute"/>.</summary>
    public static void FillRow(View view, int row, int column, Attribute attribute)
    {
        int width = view.Viewport.Width;
        if (column >= width)
            return;
        view.SetAttribute(attribute);
        view.Move(column, row);
        view.AddStr(new string(' ', width - column));
    }
}
