using Echo.Net.Yamux;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Yamux;

/// <summary>The flow-control rules alone, without a session: credit, half-window grants, auto-tuning, the send window.</summary>
public class YamuxWindowsTests
{
    private const uint Initial = YamuxOptions.InitialWindow;
    private const long MaxWindow = 16 * 1024 * 1024;
    private static readonly TimeSpan Rtt = TimeSpan.FromMilliseconds(10);

    [Fact]
    public void TrySpend_BeyondCredit_FailsAndChangesNothing()
    {
        YamuxReceiveWindow window = new(0);
        Assert.True(window.TrySpend(Initial - 10));
        Assert.False(window.TrySpend(11));
        Assert.Equal(10u, window.Credit);
        Assert.True(window.TrySpend(10));
        Assert.Equal(0u, window.Credit);
    }

    [Fact]
    public void TryGrant_BeforeHalfConsumed_GrantsNothing()
    {
        FakeTimeProvider time = new();
        YamuxReceiveBudget budget = new(32L * 1024 * 1024);
        YamuxReceiveWindow window = new(time.GetTimestamp());
        Assert.True(window.TrySpend(Initial));
        window.Buffer(Initial);
        window.Consume(Initial / 2 - 1);

        Assert.False(window.TryGrant(time.GetTimestamp(), time, Rtt, MaxWindow, budget, out bool grew));
        Assert.False(grew);
        Assert.Equal(0u, window.PendingDelta);
        Assert.Equal(0u, window.Credit);
    }

    [Fact]
    public void TryGrant_HalfConsumedBySlowReader_GrantsConsumedBytesWithoutGrowing()
    {
        FakeTimeProvider time = new();
        YamuxReceiveBudget budget = new(32L * 1024 * 1024);
        YamuxReceiveWindow window = new(time.GetTimestamp());
        Assert.True(window.TrySpend(Initial));
        window.Buffer(Initial);
        window.Consume(Initial / 2);
        time.Advance(Rtt * 4);   // not faster than four round trips

        Assert.True(window.TryGrant(time.GetTimestamp(), time, Rtt, MaxWindow, budget, out bool grew));
        Assert.False(grew);
        Assert.Equal(Initial, window.Size);
        Assert.Equal(Initial / 2, window.Credit);
        Assert.Equal(Initial / 2, window.TakePendingDelta());
        Assert.Equal(0u, window.PendingDelta);
        Assert.Equal(0, budget.Reserved);
    }

    [Fact]
    public void TryGrant_FastReader_DoublesWindowAndReservesGrowth()
    {
        FakeTimeProvider time = new();
        YamuxReceiveBudget budget = new(32L * 1024 * 1024);
        YamuxReceiveWindow window = new(time.GetTimestamp());
        Assert.True(window.TrySpend(Initial));
        window.Buffer(Initial);
        window.Consume(Initial);
        time.Advance(Rtt);

        Assert.True(window.TryGrant(time.GetTimestamp(), time, Rtt, MaxWindow, budget, out bool grew));
        Assert.True(grew);
        Assert.Equal(2 * Initial, window.Size);
        Assert.Equal(2 * Initial, window.Credit);          // the consumed window plus the growth
        Assert.Equal(2 * Initial, window.PendingDelta);
        Assert.Equal(Initial, budget.Reserved);            // only the growth: the initial window is the stream's
    }

    [Fact]
    public void TryGrant_WithoutRtt_NeverGrows()
    {
        FakeTimeProvider time = new();
        YamuxReceiveBudget budget = new(32L * 1024 * 1024);
        YamuxReceiveWindow window = new(time.GetTimestamp());
        Assert.True(window.TrySpend(Initial));
        window.Buffer(Initial);
        window.Consume(Initial);

        Assert.True(window.TryGrant(time.GetTimestamp(), time, TimeSpan.Zero, MaxWindow, budget, out bool grew));
        Assert.False(grew);
        Assert.Equal(Initial, window.Size);
    }

    [Fact]
    public void TryGrant_GrowthStopsAtMaxWindowAndAtHalfTheBudget()
    {
        FakeTimeProvider time = new();
        YamuxReceiveBudget budget = new(4L * Initial);   // growth may take 2 x 256 KiB
        YamuxReceiveWindow window = new(time.GetTimestamp());
        List<uint> sizes = [];
        for (int round = 0; round < 5; round++)
        {
            uint credit = window.Credit;
            Assert.True(window.TrySpend(credit));
            window.Buffer(credit);
            window.Consume(credit);
            time.Advance(Rtt);
            Assert.True(window.TryGrant(time.GetTimestamp(), time, Rtt, MaxWindow, budget, out _));
            window.TakePendingDelta();
            sizes.Add(window.Size);
        }
        // 256 -> 512 KiB (growth 256 KiB); 1 MiB would need 512 KiB more, past half the budget.
        Assert.Equal([2 * Initial, 2 * Initial, 2 * Initial, 2 * Initial, 2 * Initial], sizes);
        Assert.Equal(Initial, budget.Reserved);

        YamuxReceiveWindow capped = new(time.GetTimestamp());
        YamuxReceiveBudget large = new(64L * 1024 * 1024);
        for (int round = 0; round < 10; round++)
        {
            uint credit = capped.Credit;
            Assert.True(capped.TrySpend(credit));
            capped.Buffer(credit);
            capped.Consume(credit);
            time.Advance(Rtt);
            Assert.True(capped.TryGrant(time.GetTimestamp(), time, Rtt, 1024 * 1024, large, out _));
        }
        Assert.Equal(1024u * 1024, capped.Size);
    }

    [Fact]
    public void DropBuffered_ForgetsWhatTheApplicationLeft()
    {
        YamuxReceiveWindow window = new(0);
        Assert.True(window.TrySpend(1000));
        window.Buffer(1000);
        window.Consume(400);
        Assert.Equal(600, window.Buffered);
        window.DropBuffered();
        Assert.Equal(0, window.Buffered);
    }

    [Fact]
    public void SendWindow_AddsUpdatesUpToMaxAndSpends()
    {
        YamuxSendWindow window = new();
        Assert.Equal(Initial, window.Available);
        window.Spend(Initial);
        Assert.Equal(0, window.Available);
        Assert.True(window.TryAdd(1000, max: 1000));
        Assert.False(window.TryAdd(1, max: 1000));    // past the maximum: refused, unchanged
        Assert.Equal(1000, window.Available);
        Assert.True(window.TryAdd(uint.MaxValue - 1000, max: uint.MaxValue));
        Assert.Equal(uint.MaxValue, window.Available);
    }

    [Fact]
    public void ReceiveBudget_ReservesStreamsUpToLimitAndReleasesWholeWindows()
    {
        YamuxReceiveBudget budget = new(3L * Initial);
        Assert.True(budget.TryReserveStream());
        Assert.True(budget.TryReserveStream());
        Assert.True(budget.TryGrow(Initial / 2));
        Assert.False(budget.TryReserveStream());           // 2.5 + 1 windows > 3
        Assert.Equal(5L * Initial / 2, budget.Reserved);

        budget.Release(Initial + Initial / 2);             // the grown stream goes with its growth
        Assert.Equal(Initial, budget.Reserved);
        Assert.True(budget.TryReserveStream());
        Assert.True(budget.TryGrow(Initial));              // growth is free again (at most half of 3 windows)
        Assert.False(budget.TryGrow(Initial / 2 + 1));
    }
}
