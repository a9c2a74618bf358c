namespace Echo.Tui.Rendering;

/// <summary>How a piece of a line is shown; the views map each tone to terminal colours.</summary>
internal enum Tone
{
    /// <summary>Plain text.</summary>
    Text,

    /// <summary>The time column.</summary>
    Time,

    /// <summary>Another peer's nick, in that peer's colour (<see cref="Span.Colour"/>).</summary>
    Nick,

    /// <summary>Our own nick.</summary>
    OwnNick,

    /// <summary>The marker of a line from an echo-go peer (unsigned).</summary>
    EchoGo,

    /// <summary>Information from the chat (/help, /peers, joins).</summary>
    Notice,

    /// <summary>Something the user asked for failed.</summary>
    Error,

    /// <summary>Secondary detail (peer ids, round trips, hints).</summary>
    Dim,

    /// <summary>Something selected or current (the current room).</summary>
    Highlight,

    /// <summary>Your nick in someone else's line, and the line itself: it mentions you.</summary>
    Mention,

    /// <summary>A direct message not yet seen (the room list and activity list).</summary>
    Direct,

    /// <summary>The read marker and the day-change line.</summary>
    Marker,
}

/// <summary>A run of text in one tone. The text is already safe for the terminal.</summary>
/// <param name="Text">Display text, without control or bidi characters.</param>
/// <param name="Tone">How to show it.</param>
/// <param name="Colour">For <see cref="Tone.Nick"/>: the index into the nick palette.</param>
internal readonly record struct Span(string Text, Tone Tone, int Colour = 0);

/// <summary>One logical line of the scrollback; the view wraps it to the width it has.</summary>
/// <param name="Spans">The pieces, left to right.</param>
/// <param name="Indent">Columns to indent wrapped continuation rows by (the width of the time and nick prefix).</param>
internal sealed record DisplayLine(IReadOnlyList<Span> Spans, int Indent = 0)
{
    /// <summary>The text of the line without styling, as a user would read it.</summary>
    public string PlainText => string.Concat(Spans.Select(s => s.Text));
}
