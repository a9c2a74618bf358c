using Echo.Core.Chat;
using Echo.Core.Conversations;
using Echo.Tui.Activity;
using Echo.Tui.Rendering;
using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace Echo.Tui.Views;

/// <summary>
/// The joined rooms, the current one highlighted, with unread counts. Up/Down move the cursor when
/// it has focus; Enter, Space or a click chooses a room.
/// </summary>
internal sealed class RoomListView : View
{
    private IReadOnlyList<ConversationId> _rooms = [];
    private IReadOnlyDictionary<string, ConversationActivity> _unseen = new Dictionary<string, ConversationActivity>();
    private ConversationId? _current;
    private int _cursor;

    public RoomListView()
    {
        CanFocus = true;
    }

    /// <summary>Raised when the user picks a room.</summary>
    public event Action<ConversationId>? RoomChosen;

    /// <summary>The name shown for a direct conversation with a peer id (its nick when known).</summary>
    public Func<string, string> Label { get; set; } = peerId => peerId;

    /// <summary>Updates what is shown.</summary>
    public void Update(IReadOnlyList<ConversationId> rooms, ConversationId? current, IReadOnlyDictionary<string, ConversationActivity> unseen)
    {
        _rooms = rooms;
        _current = current;
        _unseen = unseen;
        int index = current is null ? -1 : IndexOf(current);
        _cursor = index >= 0 ? index : Math.Clamp(_cursor, 0, Math.Max(0, rooms.Count - 1));
        SetNeedsDraw();
    }

    /// <summary>One line per room as shown (for tests and diagnostics).</summary>
    public IEnumerable<string> Rows => _rooms.Select(r => string.Concat(Row(r).Select(s => s.Text)));

    protected override bool OnDrawingContent(DrawContext? context)
    {
        Attribute normal = GetAttributeForRole(VisualRole.Normal);
        int height = Viewport.Height;
        int first = Math.Max(0, Math.Min(_cursor - height + 1, _rooms.Count - height));
        for (int row = 0; row < height; row++)
        {
            int index = first + row;
            int used = 0;
            bool cursorRow = HasFocus && index == _cursor;
            if (index < _rooms.Count)
            {
                used = SpanDrawing.DrawRow(this, row, Row(_rooms[index]), normal,
                    cursorRow ? (_, n) => GetAttributeForRole(VisualRole.Focus) : null);
            }
            SpanDrawing.FillRow(this, row, used, cursorRow ? GetAttributeForRole(VisualRole.Focus) : normal);
        }
        return true;
    }

    protected override bool OnKeyDown(Key key)
    {
        if (key == Key.CursorUp || key == Key.CursorDown)
        {
            _cursor = Math.Clamp(_cursor + (key == Key.CursorUp ? -1 : 1), 0, Math.Max(0, _rooms.Count - 1));
            SetNeedsDraw();
            return true;
        }
        if ((key == Key.Enter || key == Key.Space) && _cursor < _rooms.Count)
        {
            RoomChosen?.Invoke(_rooms[_cursor]);
            return true;
        }
        return base.OnKeyDown(key);
    }

    protected override bool OnMouseEvent(Mouse mouse)
    {
        if (mouse.Flags.HasFlag(MouseFlags.LeftButtonClicked) && mouse.Position is { } position)
        {
            int first = Math.Max(0, Math.Min(_cursor - Viewport.Height + 1, _rooms.Count - Viewport.Height));
            int index = first + position.Y;
            if (index >= 0 && index < _rooms.Count)
            {
                _cursor = index;
                RoomChosen?.Invoke(_rooms[index]);
                return true;
            }
        }
        return base.OnMouseEvent(mouse);
    }

    private int IndexOf(ConversationId room)
    {
        for (int i = 0; i < _rooms.Count; i++)
        {
            if (_rooms[i] == room)
                return i;
        }
        return -1;
    }

    private IEnumerable<Span> Row(ConversationId room)
    {
        int number = IndexOf(room) + 1;
        string key = number is >= 1 and <= 9 ? $"{number} " : "  ";
        bool current = room == _current;
        yield return new Span(key, Tone.Dim);
        // a direct conversation is shown as "@<nick>"
        string name = room.PeerId is { } peerId ? "@" + Label(peerId) : room.Name;
        ConversationActivity unseen = _unseen.GetValueOrDefault(room.Key);
        Tone tone = current ? Tone.Highlight
            : unseen.Level switch
            {
                ActivityLevel.Mention => Tone.Mention,
                ActivityLevel.Direct => Tone.Direct,
                _ => Tone.Text,
            };
        yield return new Span((current ? "#" : " ") + SafeText.ForDisplay(name), tone);
        // "(5)" unread, "(5, 2!)" with two mentions among them, "(3 DM)" in a direct conversation.
        if (unseen.Unread > 0)
        {
            string detail = unseen.Mentions > 0 ? $"{unseen.Unread}, {unseen.Mentions}!"
                : unseen.Level == ActivityLevel.Direct ? $"{unseen.Unread} DM"
                : $"{unseen.Unread}";
            yield return new Span($" ({detail})", unseen.Level switch
            {
                ActivityLevel.Mention => Tone.Mention,
                ActivityLevel.Direct => Tone.Direct,
                _ => Tone.Notice,
            });
        }
    }
}
