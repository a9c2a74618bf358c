using Echo.Tui.Input;

namespace Echo.Tui.Tests.Input;

public sealed class CompleterTests
{
    private static readonly CompletionSources Sources = new(["alice", "Alfred", "bob"], ["lobby", "ops", "openbsd"]);

    private static (LineEditor Editor, Completer Completer) Typed(string text)
    {
        LineEditor editor = new() { Text = text };
        return (editor, new Completer());
    }

    [Fact]
    public void A_nick_at_the_start_of_the_line_gets_a_colon_and_tab_again_cycles()
    {
        (LineEditor editor, Completer completer) = Typed("al");
        Assert.True(completer.Complete(editor, Sources));
        Assert.Equal("Alfred: ", editor.Text);
        Assert.True(completer.Complete(editor, Sources));
        Assert.Equal("alice: ", editor.Text);
        Assert.True(completer.Complete(editor, Sources));
        Assert.Equal("Alfred: ", editor.Text); // wraps around
    }

    [Fact]
    public void A_nick_inside_the_line_gets_a_space()
    {
        (LineEditor editor, Completer completer) = Typed("hi bo");
        Assert.True(completer.Complete(editor, Sources));
        Assert.Equal("hi bob ", editor.Text);
    }

    [Fact]
    public void Commands_complete_at_the_start_and_rooms_after_a_hash()
    {
        (LineEditor editor, Completer completer) = Typed("/jo");
        Assert.True(completer.Complete(editor, Sources));
        Assert.Equal("/join ", editor.Text);
        editor.Insert("#op");
        completer.Reset();
        Assert.True(completer.Complete(editor, Sources));
        Assert.Equal("/join #openbsd ", editor.Text);
        Assert.True(completer.Complete(editor, Sources));
        Assert.Equal("/join #ops ", editor.Text);
    }

    [Fact]
    public void Another_key_ends_the_cycle_and_the_next_tab_completes_the_new_word()
    {
        (LineEditor editor, Completer completer) = Typed("b");
        Assert.True(completer.Complete(editor, Sources));
        Assert.Equal("bob: ", editor.Text);
        completer.Reset();
        editor.Insert("hi al");
        Assert.True(completer.Complete(editor, Sources));
        Assert.Equal("bob: hi Alfred ", editor.Text);
    }

    [Fact]
    public void Nothing_to_complete_leaves_the_line_alone()
    {
        (LineEditor editor, Completer completer) = Typed("zz");
        Assert.False(completer.Complete(editor, Sources));
        Assert.Equal("zz", editor.Text);
        (editor, completer) = Typed("hi ");
        Assert.False(completer.Complete(editor, Sources));
        Assert.Equal("hi ", editor.Text);
    }

    [Fact]
    public void The_command_list_is_the_one_help_shows()
    {
        Assert.Contains("/join", CompletionSources.Commands);
        Assert.Contains("/msg", CompletionSources.Commands);
        Assert.DoesNotContain("Anything", CompletionSources.Commands);
    }
}
