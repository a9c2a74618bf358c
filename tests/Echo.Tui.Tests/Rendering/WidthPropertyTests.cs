using CsCheck;
using Echo.Tui.Input;
using Echo.Tui.Rendering;

namespace Echo.Tui.Tests.Rendering;

/// <summary>
/// Text whose width terminals measure in surprising ways (emoji with skin-tone modifiers, ZWJ
/// sequences, flags, variation selectors, CJK, combining marks) never overflows a row.
/// </summary>
public sealed class WidthPropertyTests
{
    private static readonly string[] Pieces =
    [
        "a", "Z", " ", " ", "日", "本", "語", "e\u0301", "a\u0308\u0301", "👍", "👍🏽", "👋🏿", "🏽",
        "👨\u200d👩\u200d👧", "🇫🇷", "❤\uFE0F", "☺", "ｱ", "한", "x\u200d", "-", ",",
    ];

    private static readonly Gen<string> Text =
        Gen.Int[0, Pieces.Length - 1].Select(i => Pieces[i]).Array[0, 60].Select(string.Concat);

    [Theory]
    // As tmux 3.3 draws what the views hand it (cursor position reports after printing each); a
    // skin-tone modifier is left out, as tmux would give it two more columns than Terminal.Gui.
    [InlineData("👍🏽", 2)]
    [InlineData("👋🏿x", 3)]
    [InlineData("👩🏽\u200d💻", 2)]
    [InlineData("👨\u200d👩\u200d👧", 2)]
    [InlineData("🇫🇷", 2)]
    [InlineData("❤\uFE0F", 1)]
    [InlineData("e\u0301", 1)]
    [InlineData("日本", 4)]
    [InlineData("☺", 1)]
    public void Widths_are_what_the_terminal_draws(string text, int columns)
    {
        string drawn = Columns.ForTerminal(text);
        Assert.False(Columns.HasModifier(drawn));
        Assert.Equal(columns, Columns.Of(drawn));
        Assert.Equal(columns, Columns.Of(text)); // measured the same before and after
    }

    [Fact]
    public void No_wrapped_row_is_wider_than_the_row()
    {
        Gen.Select(Text, Gen.Int[2, 40], Gen.Int[0, 12]).Sample((text, width, indent) =>
        {
            DisplayLine line = new([new Span("12:00:00 ", Tone.Time), new Span(text, Tone.Text)], Math.Min(indent, 9));
            List<IReadOnlyList<Span>> rows = Columns.Wrap(line, width);
            foreach (IReadOnlyList<Span> row in rows)
            {
                string shown = string.Concat(row.Select(s => s.Text));
                if (Columns.Of(shown) > width)
                    throw new InvalidOperationException($"row '{shown}' is {Columns.Of(shown)} columns wide in {width}");
            }
            // Nothing is lost but the spaces a row broke at.
            string all = string.Concat(rows.SelectMany(r => r).Select(s => s.Text)).Replace(" ", "", StringComparison.Ordinal);
            string expected = ("12:00:00 " + text).Replace(" ", "", StringComparison.Ordinal);
            if (all != expected)
                throw new InvalidOperationException($"wrapping lost text: '{expected}' became '{all}'");
        });
    }

    [Fact]
    public void Truncated_text_fits_its_width()
    {
        Gen.Select(Text, Gen.Int[0, 30]).Sample((text, width) =>
        {
            string cut = Columns.Truncate(text, width);
            if (Columns.Of(cut) > width)
                throw new InvalidOperationException($"'{cut}' is wider than {width}");
        });
    }

    [Fact]
    public void The_input_window_never_puts_more_on_the_row_than_fits()
    {
        Gen.Select(Text, Gen.Int[2, 30], Gen.Int[0, 100]).Sample((text, width, cursorAt) =>
        {
            LineEditor editor = new() { Text = text };
            editor.MoveTo(cursorAt);
            int first = editor.ScrollFor(width);
            int columns = 0;
            for (int i = first; i < editor.Cursor; i++)
                columns += editor.WidthOf(i);
            if (columns + 1 > width)
                throw new InvalidOperationException($"cursor at column {columns} of {width}");
            if (editor.Text != text)
                throw new InvalidOperationException("the editor changed the text");
        });
    }
}
