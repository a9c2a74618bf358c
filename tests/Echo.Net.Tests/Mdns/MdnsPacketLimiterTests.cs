using System.Net;
using Echo.Net.Mdns;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Mdns;

public sealed class MdnsPacketLimiterTests
{
    private static readonly MdnsOptions Options = new() { MaxPacketsPerSecond = 20, MaxPacketsPerSecondPerSource = 5 };

    private static IPAddress Host(int i) => new([10, 0, (byte)(i / 250), (byte)(i % 250 + 1)]);

    private static int Allowed(MdnsPacketLimiter limiter, Func<int, IPAddress> source, int packets, int interfaceIndex = 1) =>
        Enumerable.Range(0, packets).Count(i => limiter.Allow(source(i), interfaceIndex));

    [Fact]
    public void One_source_gets_its_share_a_second_and_no_more()
    {
        FakeTimeProvider time = new();
        MdnsPacketLimiter limiter = new(Options, time);
        Assert.Equal(5, Allowed(limiter, _ => Host(1), 1000));
        time.Advance(TimeSpan.FromMilliseconds(400));
        Assert.Equal(2, Allowed(limiter, _ => Host(1), 1000));         // refilled continuously: 0.4 s is 2 packets
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(5, Allowed(limiter, _ => Host(1), 1000));         // bursts of one second's worth, not more
    }

    [Fact]
    public void A_flooding_source_leaves_the_others_their_share()
    {
        FakeTimeProvider time = new();
        MdnsPacketLimiter limiter = new(Options, time);
        for (int second = 0; second < 5; second++)
        {
            Assert.Equal(5, Allowed(limiter, _ => Host(1), 1000));
            Assert.Equal(2, Allowed(limiter, _ => Host(2), 2));         // an honest neighbour is always heard
            time.Advance(TimeSpan.FromSeconds(1));
        }
    }

    [Fact]
    public void Many_sources_together_get_the_interface_limit_and_the_rest_is_counted()
    {
        FakeTimeProvider time = new();
        MdnsPacketLimiter limiter = new(Options, time);
        Assert.Equal(20, Allowed(limiter, Host, 1000));                  // spoofed sources: the interface bounds them
        Assert.Equal(20, Allowed(limiter, Host, 1000, interfaceIndex: 2)); // another interface has its own share
        Assert.Equal(20, Allowed(limiter, i => IPAddress.Parse($"fd00::{i + 1:x}"), 1000)); // and so has the other family
        Assert.Equal(3000 - 60, limiter.DroppedToReport(TimeSpan.FromSeconds(10)));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(20, Allowed(limiter, Host, 1000));
        Assert.Equal(0, limiter.DroppedToReport(TimeSpan.FromSeconds(10)));        // reported at most every 10 s...
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(980, limiter.DroppedToReport(TimeSpan.FromSeconds(10)));      // ...with what was dropped meanwhile
        Assert.Equal(0, limiter.DroppedToReport(TimeSpan.FromSeconds(0)));         // nothing dropped since
    }

    [Fact]
    public void Sources_remembered_are_bounded_and_idle_ones_make_room()
    {
        FakeTimeProvider time = new();
        MdnsPacketLimiter limiter = new(Options with { MaxPacketsPerSecond = 100_000 }, time);
        Assert.Equal(2 * MdnsPacketLimiter.MaxSources, Allowed(limiter, Host, 2 * MdnsPacketLimiter.MaxSources));
        Assert.Equal(MdnsPacketLimiter.MaxSources, limiter.SourceCount);
        IPAddress late = Host(5000);
        Assert.Equal(100, Allowed(limiter, _ => late, 100));            // no room: held to the interface limit only

        time.Advance(TimeSpan.FromSeconds(2));                          // every source idle and full again
        Assert.True(limiter.Allow(late, 1));
        Assert.Equal(1, limiter.SourceCount);
        Assert.Equal(4, Allowed(limiter, _ => late, 100));              // remembered now: its own share again
    }
}
