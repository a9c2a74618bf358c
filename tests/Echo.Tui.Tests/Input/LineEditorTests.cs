using Echo.Tui.Input;

namespace Echo.Tui.Tests.Input;

public sealed class LineEditorTests
{
    private static LineEditor With(string text, int cursor)
    {
        LineEditor editor = new() { Text = text };
        editor.MoveTo(cursor);
        return editor;
    }

    [Fact]
    public void Typing_appends_and_moves_the_cursor()
    {
        LineEditor editor = new();
        foreach (char c in "hello")
            editor.Insert(c.ToString());
        Assert.Equal(("hello", 5), (editor.Text, editor.Cursor));
    }

    [Fact]
    public void Home_end_and_character_moves_stay_inside_the_line()
    {
        LineEditor editor = With("abc", 1);
        editor.Left();
        editor.Left();
        Assert.Equal(0, editor.Cursor);
        editor.End();
        editor.Right();
        Assert.Equal(3, editor.Cursor);
        editor.Home();
        Assert.Equal(0, editor.Cursor);
    }

    [Fact]
    public void Word_moves_skip_punctuation_and_spaces_as_readline_does()
    {
        LineEditor editor = With("say hello, world", 16);
        editor.WordLeft();
        Assert.Equal(11, editor.Cursor); // before "world"
        editor.WordLeft();
        Assert.Equal(4, editor.Cursor); // before "hello"
        editor.WordRight();
        Assert.Equal(9, editor.Cursor); // after "hello", before the comma
        editor.WordRight();
        Assert.Equal(16, editor.Cursor);
    }

    [Fact]
    public void Ctrl_U_and_Ctrl_K_kill_to_either_end_and_Ctrl_Y_yanks_it_back()
    {
        LineEditor editor = With("hello world", 5);
        editor.KillToEnd();
        Assert.Equal(("hello", " world"), (editor.Text, editor.KillBuffer));
        editor.End(); // a move ends the run of kills
        editor.KillToStart();
        Assert.Equal(("", "hello"), (editor.Text, editor.KillBuffer));
        editor.Yank();
        Assert.Equal(("hello", 5), (editor.Text, editor.Cursor));
    }

    [Fact]
    public void Ctrl_W_kills_the_word_before_the_cursor_and_kills_in_a_row_add_up()
    {
        LineEditor editor = With("one two three", 13);
        editor.KillWordBack();
        Assert.Equal("one two ", editor.Text);
        editor.KillWordBack();
        Assert.Equal(("one ", "two three"), (editor.Text, editor.KillBuffer));
        editor.Home();
        editor.Yank();
        Assert.Equal("two threeone ", editor.Text);
    }

    [Fact]
    public void Alt_D_kills_the_next_word()
    {
        LineEditor editor = With("one two three", 3);
        editor.KillWordForward();
        Assert.Equal(("one three", " two"), (editor.Text, editor.KillBuffer));
    }

    [Fact]
    public void Backspace_and_delete_remove_whole_graphemes()
    {
        LineEditor editor = With("ae\u0301b", 2); // the cursor after "é"
        Assert.Equal(3, editor.Count);
        editor.Backspace();
        Assert.Equal("ab", editor.Text);
        editor.Delete();
        Assert.Equal(("a", 1), (editor.Text, editor.Cursor));
    }

    [Fact]
    public void A_combining_mark_typed_after_a_letter_joins_it()
    {
        LineEditor editor = new();
        editor.Insert("e");
        editor.Insert("\u0301");
        Assert.Equal((1, 1), (editor.Count, editor.Cursor));
    }

    [Fact]
    public void Control_characters_become_spaces_and_the_length_limit_holds()
    {
        LineEditor editor = new(maxLength: 5);
        Assert.True(editor.Insert("a\tb"));
        Assert.Equal("a b", editor.Text);
        Assert.False(editor.Insert("cdef"));
        Assert.Equal("a bcd", editor.Text);
        Assert.False(editor.Insert("x"));
        Assert.Equal(5, editor.Length);
    }

    [Fact]
    public void The_window_follows_the_cursor_and_stays_put_while_it_is_inside()
    {
        LineEditor editor = new() { Text = new string('x', 100) };
        Assert.Equal(91, editor.ScrollFor(10)); // 9 graphemes and the cursor's cell
        editor.MoveTo(95);
        Assert.Equal(91, editor.ScrollFor(10));
        editor.MoveTo(50);
        Assert.Equal(50, editor.ScrollFor(10));
        editor.MoveTo(55);
        Assert.Equal(50, editor.ScrollFor(10));
    }

    [Fact]
    public void Wide_graphemes_count_two_columns_in_the_window()
    {
        LineEditor editor = new() { Text = "日本語テキスト" };
        // 7 wide graphemes; in 10 columns 4 fit before the cursor cell (8 + 1).
        Assert.Equal(3, editor.ScrollFor(10));
    }

    [Fact]
    public void A_long_line_typed_key_by_key_costs_each_key_what_it_changes()
    {
        // 16,000 single-key inserts and a window computation after each: quadratic work would take
        // minutes here; this is a correctness check of the result, the speed is the benchmark's.
        LineEditor editor = new();
        for (int i = 0; i < 16_000; i++)
        {
            editor.Insert(((char)('a' + i % 26)).ToString());
            editor.ScrollFor(80);
        }
        Assert.Equal(16_000, editor.Length);
        Assert.Equal(16_000 - 79, editor.ScrollFor(80));
    }
}
