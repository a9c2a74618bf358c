using Echo.Core.Chat;
using Echo.Tui.Rendering;

namespace Echo.Tui.Tests;

public sealed class ClockMarkTests
{
    private static readonly DateTimeOffset Noon = new(2026, 3, 4, 12, 0, 1, TimeSpan.Zero);

    [Fact]
    public void A_message_whose_authors_clock_was_off_shows_its_time_with_a_question_mark()
    {
        ChatMessage message = new("12D3KooWBob/1", "lobby", "12D3KooWBob", "bob", "hi", Noon, MessageOrigin.Room);
        Assert.Equal("14:00:01 <bob> hi", LineFormatter.Message(message, "12D3KooWMe", TuiHarness.Zone).PlainText);
        DisplayLine clamped = LineFormatter.Message(message with { ClockClamped = true }, "12D3KooWMe", TuiHarness.Zone);
        Assert.Equal("14:00:01? <bob> hi", clamped.PlainText);
        Assert.Equal(Columns.Of("14:00:01? <bob> "), clamped.Indent);
    }
}
