using Echo.Tui.Rendering;
using Terminal.Gui.Drawing;
using Terminal.Gui.ViewBase;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace Echo.Tui.Views;

/// <summary>One row at the bottom: who we are, where we listen, how many peers, the room, the nick, the keys.</summary>
internal sealed class StatusLine : View
{
    private IReadOnlyList<Span> _spans = [];

    public StatusLine()
    {
        CanFocus = false;
        Height = 1;
    }

    /// <summary>The text as shown (for tests and diagnostics).</summary>
    public string Shown => string.Concat(_spans.Select(s => s.Text));

    /// <summary>Updates what is shown.</summary>
    public void Update(IReadOnlyList<Span> spans)
    {
        _spans = spans;
        SetNeedsDraw();
    }

    protected override bool OnDrawingContent(DrawContext? context)
    {
        Attribute bar = GetAttributeForRole(VisualRole.Normal);
        bar = new Attribute(bar.Foreground, bar.Background, TextStyle.Reverse);
        int used = SpanDrawing.DrawRow(this, 0, _spans, bar, (span, normal) =>
            span.Tone == Tone.Dim ? normal with { Style = TextStyle.Reverse | TextStyle.Faint } :
            span.Tone == Tone.Highlight ? normal with { Style = TextStyle.Reverse | TextStyle.Bold } : normal);
        SpanDrawing.FillRow(this, 0, used, bar);
        return true;
    }
}
