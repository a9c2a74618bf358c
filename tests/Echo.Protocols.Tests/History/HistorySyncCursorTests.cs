using Echo.Core.Ports;
using Echo.Protocols.History;

namespace Echo.Protocols.Tests.History;

/// <summary>The cursor arithmetic of history sync: nothing overflows, no clock moves a cursor.</summary>
public sealed class HistorySyncCursorTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Overlap = TimeSpan.FromMinutes(2);

    [Fact]
    public void TimeOrder_NoCursor_OrTheStartOne_StartsFromTheBeginning_WithoutWrappingAround()
    {
        Assert.Equal(HistoryCursor.Start, HistorySyncCursor.TimeOrderStart(null, Overlap, Now));
        // What an empty first answer used to leave: long.MinValue minus the overlap wrapped to about +9.2e18.
        Assert.Equal(HistoryCursor.Start, HistorySyncCursor.TimeOrderStart(HistoryCursor.Start, Overlap, Now));
        Assert.Equal(HistoryCursor.Start, HistorySyncCursor.TimeOrderStart(new HistoryCursor(long.MinValue + 1, "x"), Overlap, Now));
        Assert.Equal(new HistoryCursor(-Overlap.Ticks / TimeSpan.TicksPerMillisecond, ""),
            HistorySyncCursor.TimeOrderStart(new HistoryCursor(0, "x"), Overlap, Now));
    }

    [Fact]
    public void TimeOrder_AFutureCursor_IsNeverStored_NorUsedBeyondNow()
    {
        HistoryCursor year2999 = new(new DateTimeOffset(2999, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), "x");
        long now = Now.ToUnixTimeMilliseconds();
        Assert.Equal(new HistoryCursor(now, ""), HistorySyncCursor.TimeOrderToStore(year2999, Now));
        Assert.Equal(new HistoryCursor(now, ""), HistorySyncCursor.TimeOrderToStore(new HistoryCursor(long.MaxValue, ""), Now));
        // A cursor a store already holds from before is read as now at most.
        Assert.Equal(new HistoryCursor(now - (long)Overlap.TotalMilliseconds, ""), HistorySyncCursor.TimeOrderStart(year2999, Overlap, Now));
        HistoryCursor past = new(now - 10_000, "y");
        Assert.Equal(past, HistorySyncCursor.TimeOrderToStore(past, Now));
    }

    [Fact]
    public void ReceiveOrder_MovesOnlyForward_WithinAnEpoch()
    {
        SyncPosition asked = new("e1", 40);
        Assert.Equal(new SyncPosition("e1", 90), HistorySyncCursor.Next(asked, "e1", 90, more: true));
        // An empty last page stays where it was.
        Assert.Equal(asked, HistorySyncCursor.Next(asked, "e1", 40, more: false));
        // "More" without moving would loop for ever.
        Assert.Null(HistorySyncCursor.Next(asked, "e1", 40, more: true));
        Assert.Null(HistorySyncCursor.Next(asked, "e1", 3, more: true));
        // Another epoch (the peer's file was replaced) starts its own numbering.
        Assert.Equal(new SyncPosition("e2", 3), HistorySyncCursor.Next(asked, "e2", 3, more: true));
        // Beyond what a store can number.
        Assert.Null(HistorySyncCursor.Next(asked, "e1", ulong.MaxValue, more: false));
    }

    [Fact]
    public void Responder_StartsAtTheAskedPosition_OnlyInItsOwnEpoch()
    {
        Assert.Equal(new SyncPosition("e1", 7), HistorySyncCursor.ResponderStart("e1", "e1", 7));
        Assert.Equal(new SyncPosition("e1", 0), HistorySyncCursor.ResponderStart("e1", "e0", 7));
        Assert.Equal(new SyncPosition("e1", 0), HistorySyncCursor.ResponderStart("e1", "", 7));
        Assert.Equal(new SyncPosition("e1", long.MaxValue), HistorySyncCursor.ResponderStart("e1", "e1", ulong.MaxValue));
        Assert.Equal(new SyncPosition("", 0), HistorySyncCursor.ResponderStart("", "", 7));
    }
}
