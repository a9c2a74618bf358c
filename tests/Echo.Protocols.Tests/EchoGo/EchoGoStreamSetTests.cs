using Echo.Protocols.EchoGo;

namespace Echo.Protocols.Tests.EchoGo;

public sealed class EchoGoStreamSetTests
{
    // The set chooses by direction and time only; it never touches the stream itself.
    private static EchoGoStream Stream(bool outbound, long usableAt = 0) => new(null!, outbound, usableAt);

    [Fact]
    public void TheNewestStreamThePeerOpened_IsChosen_BeforeAnyOfOurs()
    {
        EchoGoStreamSet set = new();
        EchoGoStream ours = Stream(outbound: true), first = Stream(outbound: false), second = Stream(outbound: false);
        Assert.False(set.Add(first));
        Assert.True(set.Add(ours));            // both kinds open: the two opens crossed
        Assert.True(set.Add(second));

        Assert.Same(second, set.Target(now: 100, out _, out _));
        Assert.Equal(2, set.Remove(second));
        Assert.Same(first, set.Target(now: 100, out _, out _));
        Assert.Equal((2, false, true, true), set.Describe());
    }

    [Fact]
    public void OurStream_IsChosenOnlyOnceSettled_AndSaysWhen()
    {
        EchoGoStreamSet set = new();
        EchoGoStream ours = Stream(outbound: true, usableAt: 50);
        set.Add(ours);

        Assert.Null(set.Target(now: 49, out Task changed, out long? settles));
        Assert.Equal(50, settles);
        Assert.False(changed.IsCompleted);
        Assert.Same(ours, set.Target(now: 50, out _, out _));
    }

    [Fact]
    public void AddingOrRemovingAStream_WakesWhoeverWaitsForOne()
    {
        EchoGoStreamSet set = new();
        Assert.Null(set.Target(now: 0, out Task changed, out long? settles));
        Assert.Null(settles);

        EchoGoStream theirs = Stream(outbound: false);
        set.Add(theirs);
        Assert.True(changed.IsCompleted);

        Assert.Same(theirs, set.Target(now: 0, out Task next, out _));
        Assert.Equal(0, set.Remove(theirs));
        Assert.True(next.IsCompleted);
        Assert.Equal(0, set.Remove(theirs));   // removing it twice changes nothing
        Assert.Equal((0, null, false, false), set.Describe());
    }
}
