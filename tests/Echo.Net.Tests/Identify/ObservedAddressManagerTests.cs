using System.Net;
using Echo.Net.Addressing;
using Echo.Net.Identify;
using Echo.Net.Multiformats;

namespace Echo.Net.Tests.Identify;

public class ObservedAddressManagerTests
{
    private static readonly Multiaddr Listen = Multiaddr.Parse("/ip4/0.0.0.0/tcp/4001");
    private static readonly Multiaddr Local = Multiaddr.Parse("/ip4/192.168.1.5/tcp/4001");
    private static readonly Multiaddr External = Multiaddr.Parse("/ip4/203.0.114.7/tcp/4001");

    private static bool Observe(ObservedAddressManager manager, object connection, string observer,
        Multiaddr? observed = null, Multiaddr? local = null) =>
        manager.Record(connection, local ?? Local, observed ?? External, IPAddress.Parse(observer), [Listen]);

    [Fact]
    public void Trusted_OnlyOnceFourDistinctObserversReportIt()
    {
        ObservedAddressManager manager = new(ObservedAddressManager.DefaultThreshold, AddressClassifier.Default);

        Assert.False(Observe(manager, new object(), "1.1.1.1"));
        Assert.False(Observe(manager, new object(), "2.2.2.2"));
        Assert.False(Observe(manager, new object(), "3.3.3.3"));
        Assert.Empty(manager.Trusted);
        Assert.True(Observe(manager, new object(), "4.4.4.4"));

        Assert.Equal([External], manager.Trusted);
    }

    [Fact]
    public void Candidates_ListEveryObservedAddressWithItsObserversAndTrust_MostObservedFirst()
    {
        ObservedAddressManager manager = new(2, AddressClassifier.Default);
        Multiaddr other = Multiaddr.Parse("/ip4/203.0.114.7/tcp/5555");
        Assert.Empty(manager.Candidates());

        Observe(manager, new object(), "1.1.1.1", other);
        Observe(manager, new object(), "2.2.2.2");
        Observe(manager, new object(), "2.2.2.2");                   // the same observer on another connection
        // A tie is ordered by address.
        Assert.Equal([new ObservedAddressCandidate(Listen, External, 1, false), new ObservedAddressCandidate(Listen, other, 1, false)],
            manager.Candidates());

        Observe(manager, new object(), "3.3.3.3");
        Assert.Equal([new ObservedAddressCandidate(Listen, External, 2, true), new ObservedAddressCandidate(Listen, other, 1, false)],
            manager.Candidates());
    }

    [Fact]
    public void Observers_CountedPerIPv4AddressAndPerIPv6Slash56()
    {
        ObservedAddressManager manager = new(3, AddressClassifier.Default);

        Observe(manager, new object(), "1.1.1.1");
        Observe(manager, new object(), "1.1.1.1");                  // another peer id behind the same address
        Observe(manager, new object(), "2606:4700:0:00ff::1");
        Observe(manager, new object(), "2606:4700:0:0001::2");       // same /56 (2606:4700:0000:00xx)
        Assert.Empty(manager.Trusted);

        Observe(manager, new object(), "2606:4700:0:0100::1");       // the next /56
        Assert.Equal([External], manager.Trusted);
    }

    [Theory]
    [InlineData("1.2.3.4", "1.2.3.4")]
    [InlineData("::ffff:1.2.3.4", "1.2.3.4")]
    [InlineData("2001:db8:aa:bbcc:1:2:3:4", "2001:db8:aa:bb00::/56")]
    [InlineData("2001:db8:aa:bbff::", "2001:db8:aa:bb00::/56")]
    public void ObserverGroup_IsTheIPv4AddressOrTheIPv6Slash56(string observer, string group) =>
        Assert.Equal(group, ObservedAddressManager.ObserverGroup(IPAddress.Parse(observer)));

    [Fact]
    public void ConnectionEnding_DropsItsObservation_AndTheCandidateBelowTheThreshold()
    {
        ObservedAddressManager manager = new(2, AddressClassifier.Default);
        object first = new();
        Observe(manager, first, "1.1.1.1");
        Observe(manager, new object(), "2.2.2.2");
        Assert.Single(manager.Trusted);

        Assert.True(manager.Remove(first));

        Assert.Empty(manager.Trusted);
        Assert.Equal(1, manager.Count);
        Assert.False(manager.Remove(first));
    }

    [Fact]
    public void ANewObservationOnAConnection_ReplacesItsOldOne()
    {
        ObservedAddressManager manager = new(2, AddressClassifier.Default);
        object connection = new();
        Multiaddr other = Multiaddr.Parse("/ip4/198.51.99.1/tcp/4001");
        Observe(manager, connection, "1.1.1.1");
        Observe(manager, new object(), "2.2.2.2");
        Assert.Equal([External], manager.Trusted);

        Assert.True(Observe(manager, connection, "1.1.1.1", other));

        Assert.Empty(manager.Trusted);
        Assert.Equal(2, manager.Count);
    }

    [Fact]
    public void AtMostThreePerListenAddress_TheMostObservedFirst()
    {
        ObservedAddressManager manager = new(1, AddressClassifier.Default);
        Multiaddr[] addresses = [.. Enumerable.Range(1, 5).Select(i => Multiaddr.Parse($"/ip4/9.9.9.{i}/tcp/4001"))];
        int observer = 0;
        for (int i = 0; i < addresses.Length; i++)
            for (int n = 0; n <= i; n++)        // address i has i + 1 observers
                Observe(manager, new object(), $"1.1.1.{++observer}", addresses[i]);

        Assert.Equal(ObservedAddressManager.MaxPerLocalAddress, manager.Trusted.Count);
        Assert.Equal(addresses[2..].OrderBy(a => a.ToString(), StringComparer.Ordinal), manager.Trusted);
    }

    [Fact]
    public void Ignored_EphemeralLocalPort_PrivateOrLoopbackObserved_OtherFamily()
    {
        ObservedAddressManager manager = new(1, AddressClassifier.Default);

        Assert.False(Observe(manager, new object(), "1.1.1.1", local: Multiaddr.Parse("/ip4/192.168.1.5/tcp/53124")));
        Assert.False(Observe(manager, new object(), "1.1.1.1", Multiaddr.Parse("/ip4/192.168.1.5/tcp/4001")));
        Assert.False(Observe(manager, new object(), "1.1.1.1", Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001")));
        Assert.False(Observe(manager, new object(), "1.1.1.1", Multiaddr.Parse("/ip6/2606:4700::1/tcp/4001")));
        Assert.False(Observe(manager, new object(), "1.1.1.1",
            Multiaddr.Parse("/ip4/8.8.8.8/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit")));

        Assert.Empty(manager.Trusted);
        Assert.Equal(0, manager.Count);
    }

    [Fact]
    public void PrivateObserved_CountsWhenItsRangeIsConfiguredPublic()
    {
        ObservedAddressManager manager = new(1, new AddressClassifier([IPNetwork.Parse("192.168.0.0/16")]));
        Multiaddr wan = Multiaddr.Parse("/ip4/192.168.77.1/tcp/4001");

        Assert.True(Observe(manager, new object(), "192.168.77.9", wan));

        Assert.Equal([wan], manager.Trusted);
    }
}
