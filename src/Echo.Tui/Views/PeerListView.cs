using Echo.Core.Peers;
using Echo.Tui.Rendering;
using Terminal.Gui.Drawing;
using Terminal.Gui.ViewBase;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace Echo.Tui.Views;

/// <summary>The connected peers, two rows each: nick (or "?") and echo-go marker, then short id and round trip.</summary>
internal sealed class PeerListView : View
{
    private List<DisplayLine> _rows = [];

    public PeerListView()
    {
        CanFocus = false;
    }

    /// <summary>Updates what is shown; an away peer's "reconnecting in Ns" counts from <paramref name="now"/>.</summary>
    public void Update(IEnumerable<PeerInfo> peers, DateTimeOffset? now = null)
    {
        _rows = [];
        foreach (PeerInfo peer in peers)
        {
            (DisplayLine name, DisplayLine detail) = LineFormatter.Peer(peer, now);
            _rows.Add(name);
            _rows.Add(detail);
        }
        SetNeedsDraw();
    }

    /// <summary>The rows as plain text (for tests and diagnostics).</summary>
    public IEnumerable<string> Rows => _rows.Select(r => r.PlainText);

    protected override bool OnDrawingContent(DrawContext? context)
    {
        Attribute normal = GetAttributeForRole(VisualRole.Normal);
        int height = Viewport.Height;
        bool overflow = _rows.Count > height;
        for (int row = 0; row < height; row++)
        {
            int used = 0;
            if (overflow && row == height - 1)
                used = SpanDrawing.DrawRow(this, row, [new Span($"+{(_rows.Count - row + 1) / 2} more (/peers)", Tone.Dim)], normal);
            else if (row < _rows.Count)
                used = SpanDrawing.DrawRow(this, row, _rows[row].Spans, normal);
            SpanDrawing.FillRow(this, row, used, normal);
        }
        return true;
    }
}
