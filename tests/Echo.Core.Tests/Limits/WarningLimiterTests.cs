using Microsoft.Extensions.Time.Testing;

namespace Echo.Core.Tests.Limits;

public sealed class WarningLimiterTests
{
    [Fact]
    public void OnePerKeyPerMinute_TheNextCarriesTheCountHeldBack()
    {
        FakeTimeProvider time = new();
        WarningLimiter limiter = new(time);

        Assert.True(limiter.ShouldReport("peer-a:invalid", out long first));
        Assert.Equal(0, first);
        int reported = 0;
        for (int i = 0; i < 10_000; i++)
            reported += limiter.ShouldReport("peer-a:invalid", out _) ? 1 : 0;
        Assert.Equal(0, reported);
        Assert.True(limiter.ShouldReport("peer-b:invalid", out long other));   // another peer is reported on its own
        Assert.Equal(0, other);

        time.Advance(TimeSpan.FromSeconds(59));
        Assert.False(limiter.ShouldReport("peer-a:invalid", out _));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(limiter.ShouldReport("peer-a:invalid", out long heldBack));
        Assert.Equal(10_001, heldBack);
        Assert.Equal(10_001, limiter.SuppressedTotal);
    }

    [Fact]
    public void ManyKeys_StayBounded_AndANewKeyIsStillReported()
    {
        WarningLimiter limiter = new(new FakeTimeProvider(), maxKeys: 100);
        for (int i = 0; i < 10_000; i++)
            Assert.True(limiter.ShouldReport($"fresh-{i}", out _));
        Assert.False(limiter.ShouldReport("fresh-9999", out _));
    }
}
