using System.Net.Sockets;
using Echo.Net.Mdns;

namespace Echo.Net.Tests.Mdns;

public sealed class MdnsAnswerSpacingTests
{
    private static readonly (string, AddressFamily, int) Ipv4 = ("_p2p._udp.local", AddressFamily.InterNetwork, 2);
    private static readonly (string, AddressFamily, int) Ipv6 = ("_p2p._udp.local", AddressFamily.InterNetworkV6, 2);
    private static readonly DateTimeOffset Start = DateTimeOffset.UnixEpoch;

    [Fact]
    public void A_query_inside_the_second_gets_one_deferred_answer_and_more_queries_get_none()
    {
        MdnsAnswerSpacing spacing = new(TimeSpan.FromSeconds(1));

        Assert.Equal(TimeSpan.Zero, spacing.Query(Ipv4, Start));
        Assert.Equal(TimeSpan.FromMilliseconds(700), spacing.Query(Ipv4, Start.AddMilliseconds(300)));
        Assert.Null(spacing.Query(Ipv4, Start.AddMilliseconds(500)));        // covered by the deferred answer
        Assert.Equal(TimeSpan.Zero, spacing.Query(Ipv6, Start.AddMilliseconds(500)));   // each family and interface on its own
    }

    [Fact]
    public void After_the_deferred_answer_the_next_second_counts_from_it()
    {
        MdnsAnswerSpacing spacing = new(TimeSpan.FromSeconds(1));
        spacing.Query(Ipv4, Start);
        spacing.Query(Ipv4, Start.AddMilliseconds(300));

        spacing.Answered(Ipv4, Start.AddSeconds(1));

        Assert.Equal(TimeSpan.FromMilliseconds(500), spacing.Query(Ipv4, Start.AddMilliseconds(1500)));
        Assert.Equal(TimeSpan.Zero, new MdnsAnswerSpacing(TimeSpan.FromSeconds(1)).Query(Ipv4, Start.AddMilliseconds(1500)));
    }

    [Fact]
    public void A_query_a_second_or_more_after_the_last_answer_is_answered_at_once()
    {
        MdnsAnswerSpacing spacing = new(TimeSpan.FromSeconds(1));
        spacing.Query(Ipv4, Start);

        Assert.Equal(TimeSpan.Zero, spacing.Query(Ipv4, Start.AddSeconds(1)));
        Assert.Equal(TimeSpan.Zero, spacing.Query(Ipv4, Start.AddSeconds(5)));
    }
}
