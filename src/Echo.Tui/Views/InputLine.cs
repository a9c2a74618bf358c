using System.Drawing;
using Echo.Tui.Input;
using Echo.Tui.Rendering;
using Terminal.Gui.Drawing;
using Terminal.Gui.Drivers;
using Terminal.Gui.Input;
using Terminal.Gui.ViewBase;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace Echo.Tui.Views;

/// <summary>
/// The line the user types in: readline keys, Tab completion, Up/Down recall, a window that scrolls
/// sideways to keep the cursor in view. Replaces Terminal.Gui's TextField, whose cost per key grew
/// with the line (a 4,000-character line typed as keys took minutes and gigabytes); here a key costs
/// what it changes and a draw what is visible.
/// </summary>
internal sealed class InputLine : View
{
    private readonly LineEditor _editor = new();
    private readonly Completer _completer = new();
    private readonly InputHistory _history = new();

    public InputLine()
    {
        CanFocus = true;
        TabStop = TabBehavior.TabStop;
    }

    /// <summary>Raised with the line when Enter is pressed on a line that is not blank.</summary>
    public event Action<string>? Submitted;

    /// <summary>Where Tab finds nicks and rooms; no completion when unset.</summary>
    public Func<CompletionSources>? CompletionSources { get; set; }

    /// <summary>The line as typed so far.</summary>
    public new string Text
    {
        get => _editor.Text;
        set
        {
            _editor.Text = value;
            Changed();
        }
    }

    /// <summary>The cursor as a grapheme index into <see cref="Text"/>.</summary>
    public int CursorPosition => _editor.Cursor;

    /// <summary>What Ctrl+Y would insert.</summary>
    public string KillBuffer => _editor.KillBuffer;

    protected override bool OnKeyDown(Key key)
    {
        if (key == Key.Tab)
        {
            // Tab never leaves the line: it completes or does nothing.
            if (CompletionSources is { } sources)
                _completer.Complete(_editor, sources());
            Changed();
            return true;
        }
        _completer.Reset();
        if (Edit(key))
        {
            Changed();
            return true;
        }
        return base.OnKeyDown(key);
    }

    private bool Edit(Key key)
    {
        if (key == Key.Enter)
        {
            string line = _editor.Text;
            _history.Add(line);
            _editor.Clear();
            if (!string.IsNullOrWhiteSpace(line))
                Submitted?.Invoke(line);
        }
        else if (key == Key.CursorUp)
        {
            if (_history.Previous(_editor.Text) is { } previous)
                _editor.Text = previous;
        }
        else if (key == Key.CursorDown)
        {
            if (_history.Next() is { } next)
                _editor.Text = next;
        }
        else if (key == Key.A.WithCtrl || key == Key.Home)
            _editor.Home();
        else if (key == Key.E.WithCtrl || key == Key.End)
            _editor.End();
        else if (key == Key.B.WithCtrl || key == Key.CursorLeft)
            _editor.Left();
        else if (key == Key.F.WithCtrl || key == Key.CursorRight)
            _editor.Right();
        else if (key == Key.B.WithAlt || key == Key.CursorLeft.WithCtrl)
            _editor.WordLeft();
        else if (key == Key.F.WithAlt || key == Key.CursorRight.WithCtrl)
            _editor.WordRight();
        else if (key == Key.Backspace || key == Key.H.WithCtrl)
            _editor.Backspace();
        else if (key == Key.Delete || (key == Key.D.WithCtrl && _editor.Count > 0))
            _editor.Delete();
        else if (key == Key.U.WithCtrl)
            _editor.KillToStart();
        else if (key == Key.K.WithCtrl)
            _editor.KillToEnd();
        else if (key == Key.W.WithCtrl || key == Key.Backspace.WithAlt)
            _editor.KillWordBack();
        else if (key == Key.D.WithAlt)
            _editor.KillWordForward();
        else if (key == Key.Y.WithCtrl)
            _editor.Yank();
        else if (!key.IsCtrl && !key.IsAlt && key.AsRune is { Value: >= 0x20 } rune && rune.Value != 0x7F)
            _editor.Insert(rune.ToString());
        else
            return false;
        return true;
    }

    private void Changed()
    {
        SetNeedsDraw();
    }

    protected override bool OnDrawingContent(DrawContext? context)
    {
        int width = Viewport.Width;
        if (width <= 0 || Viewport.Height <= 0)
            return true;
        Attribute normal = GetAttributeForRole(VisualRole.Normal);
        SetAttribute(normal);
        int first = _editor.ScrollFor(width);
        Move(0, 0);
        int column = 0;
        int cursorColumn = 0;
        for (int i = first; i < _editor.Count; i++)
        {
            if (i == _editor.Cursor)
                cursorColumn = column;
            int columns = _editor.WidthOf(i);
            if (column + columns > width)
                break;
            AddStr(Columns.ForTerminal(_editor[i]));
            column += columns;
        }
        if (_editor.Cursor >= _editor.Count)
            cursorColumn = column;
        if (column < width)
            AddStr(new string(' ', width - column));
        Cursor = HasFocus
            ? new Cursor { Position = ViewportToScreen(new Point(Math.Min(cursorColumn, width - 1), 0)), Style = CursorStyle.BlinkingBar }
            : new Cursor { Position = null };
        return true;
    }
}
