using Echo.Net.Identity;
using Echo.Net.Pubsub;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Pubsub;

/// <summary>GRAFT backoffs without a router: extension only, the slack for our own GRAFTs, the sweep, wire seconds.</summary>
public class BackoffsTests
{
    private static readonly PeerId A = KeyPair.Generate().PeerId;
    private static readonly PeerId B = KeyPair.Generate().PeerId;
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Max = TimeSpan.FromHours(1);

    [Fact]
    public void Add_RunsForTheBackoff_PerPeerAndTopic()
    {
        FakeTimeProvider time = new();
        Backoffs backoffs = new(time, Slack, Max);
        DateTimeOffset start = time.GetUtcNow();
        backoffs.Add(A, "t", TimeSpan.FromSeconds(60));
        Assert.True(backoffs.IsActive(A, "t", out DateTimeOffset until));
        Assert.Equal(start + TimeSpan.FromSeconds(60), until);
        Assert.False(backoffs.IsActive(A, "u", out _));
        Assert.False(backoffs.IsActive(B, "t", out _));
        Assert.Null(backoffs.Until(B, "t"));
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.False(backoffs.IsActive(A, "t", out _));             // ended: a GRAFT from the peer is fine again
        Assert.Equal(start + TimeSpan.FromSeconds(60), backoffs.Until(A, "t"));
    }

    [Fact]
    public void Add_OnlyExtends_NeverShortens()
    {
        FakeTimeProvider time = new();
        Backoffs backoffs = new(time, Slack, Max);
        DateTimeOffset start = time.GetUtcNow();
        backoffs.Add(A, "t", TimeSpan.FromSeconds(60));
        backoffs.Add(A, "t", TimeSpan.FromSeconds(10));
        Assert.Equal(start + TimeSpan.FromSeconds(60), backoffs.Until(A, "t"));
        time.Advance(TimeSpan.FromSeconds(30));
        backoffs.Add(A, "t", TimeSpan.FromSeconds(60));
        Assert.Equal(start + TimeSpan.FromSeconds(90), backoffs.Until(A, "t"));
    }

    [Fact]
    public void HoldsOurGraft_OneSlackLongerThanTheBackoff()
    {
        FakeTimeProvider time = new();
        Backoffs backoffs = new(time, Slack, Max);
        backoffs.Add(A, "t", TimeSpan.FromSeconds(10));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(backoffs.IsActive(A, "t", out _));
        Assert.True(backoffs.HoldsOurGraft(A, "t"));                 // within the slack we still do not GRAFT
        time.Advance(Slack);
        Assert.False(backoffs.HoldsOurGraft(A, "t"));
        Assert.False(backoffs.HoldsOurGraft(B, "t"));
    }

    [Fact]
    public void Sweep_ForgetsOnlyWhatEndedMoreThanTheSlackAgo()
    {
        FakeTimeProvider time = new();
        Backoffs backoffs = new(time, Slack, Max);
        backoffs.Add(A, "t", TimeSpan.FromSeconds(10));
        backoffs.Add(B, "t", TimeSpan.FromSeconds(60));
        time.Advance(TimeSpan.FromSeconds(10) + Slack);
        backoffs.Sweep();
        Assert.Equal(2, backoffs.Count);                             // A ended exactly one slack ago: kept
        time.Advance(TimeSpan.FromTicks(1));
        backoffs.Sweep();
        Assert.Equal(1, backoffs.Count);
        Assert.Null(backoffs.Until(A, "t"));
        Assert.NotNull(backoffs.Until(B, "t"));
    }

    [Theory]
    [InlineData(0UL, 0)]                               // the PRUNE handler reads 0 as "the default backoff"
    [InlineData(1UL, 1)]
    [InlineData(60UL, 60)]
    [InlineData(3599UL, 3599)]
    [InlineData(3600UL, 3600)]
    [InlineData(0x8000000000000000UL, 3600)]          // negative as a signed 64-bit number
    [InlineData((ulong)long.MaxValue, 3600)]
    [InlineData(ulong.MaxValue, 3600)]
    public void FromWireSeconds_SaturatesAtTheCap(ulong seconds, int expected)
    {
        Backoffs backoffs = new(new FakeTimeProvider(), Slack, new PubsubOptions().MaxPruneBackoff);
        Assert.Equal(TimeSpan.FromSeconds(expected), backoffs.FromWireSeconds(seconds));
    }
}
