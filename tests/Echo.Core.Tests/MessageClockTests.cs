using Echo.Core.Chat;

namespace Echo.Core.Tests;

public sealed class MessageClockTests
{
    private static readonly DateTimeOffset Received = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    private static ChatMessage At(DateTimeOffset time) => new("a:1", "lobby", "a", "alice", "hi", time, MessageOrigin.Room);

    [Theory]
    [InlineData(2999, 1, 1)]
    [InlineData(1970, 1, 1)]
    [InlineData(2019, 12, 31)]
    public void AnImplausibleTime_BecomesTheReceiveTime_AndIsMarked(int year, int month, int day)
    {
        ChatMessage clamped = MessageClock.Clamp(At(new DateTimeOffset(year, month, day, 0, 0, 0, TimeSpan.Zero)), Received);
        Assert.Equal(Received, clamped.Timestamp);
        Assert.True(clamped.ClockClamped);
    }

    [Fact]
    public void MoreThanFiveMinutesAhead_IsClamped_UpToFiveIsNot()
    {
        Assert.True(MessageClock.Clamp(At(Received + TimeSpan.FromMinutes(5) + TimeSpan.FromMilliseconds(1)), Received).ClockClamped);
        ChatMessage ahead = At(Received + TimeSpan.FromMinutes(5));
        Assert.Same(ahead, MessageClock.Clamp(ahead, Received));
    }

    [Fact]
    public void AnOldButPossibleTime_IsKept_HistoryBringsOldMessages()
    {
        ChatMessage old = At(Received.AddDays(-400));
        Assert.Same(old, MessageClock.Clamp(old, Received));
        Assert.False(old.ClockClamped);
    }
}
