using System.Net;
using Echo.Net.Addressing;
using Echo.Net.Multiformats;

namespace Echo.Net.Tests.Addressing;

public class AddressClassifierTests
{
    public static TheoryData<string, AddressClass> Table => new()
    {
        { "/ip4/10.0.0.1/tcp/4001", AddressClass.Private },
        { "/ip4/10.255.255.255/tcp/4001", AddressClass.Private },
        { "/ip4/100.64.0.1/tcp/4001", AddressClass.Private },
        { "/ip4/100.127.255.254/tcp/4001", AddressClass.Private },
        { "/ip4/100.128.0.1/tcp/4001", AddressClass.Public },          // just past 100.64/10
        { "/ip4/172.16.0.1/tcp/4001", AddressClass.Private },
        { "/ip4/172.31.255.1/tcp/4001", AddressClass.Private },
        { "/ip4/172.32.0.1/tcp/4001", AddressClass.Public },           // just past 172.16/12
        { "/ip4/192.168.1.20/tcp/4001", AddressClass.Private },
        { "/ip4/198.18.0.1/tcp/4001", AddressClass.Private },
        { "/ip4/127.0.0.1/tcp/4001", AddressClass.Loopback },
        { "/ip4/127.9.9.9/tcp/4001", AddressClass.Loopback },
        { "/ip4/169.254.3.4/tcp/4001", AddressClass.LinkLocal },
        { "/ip4/0.0.0.0/tcp/4001", AddressClass.Private },
        { "/ip4/8.8.8.8/tcp/4001", AddressClass.Public },
        { "/ip4/1.1.1.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN", AddressClass.Public },
        { "/ip6/::1/tcp/4001", AddressClass.Loopback },
        { "/ip6/fe80::1/tcp/4001", AddressClass.LinkLocal },
        { "/ip6/fc00::1/tcp/4001", AddressClass.Private },
        { "/ip6/fd12:3456::1/tcp/4001", AddressClass.Private },
        { "/ip6/2001:db8::1/tcp/4001", AddressClass.Private },          // documentation
        { "/ip6/2606:4700::1111/tcp/4001", AddressClass.Public },
        { "/ip6/::ffff:10.1.2.3/tcp/4001", AddressClass.Private },      // IPv4-mapped: classed as the IPv4 address
        { "/dns4/bootstrap.libp2p.io/tcp/4001", AddressClass.Public },
        { "/dns/localhost/tcp/4001", AddressClass.Loopback },
        { "/ip4/8.8.8.8/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit", AddressClass.Circuit },
        { "/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN", AddressClass.Circuit },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Classify_BuiltInTable(string address, AddressClass expected) =>
        Assert.Equal(expected, AddressClassifier.Default.Classify(Multiaddr.Parse(address)));

    [Fact]
    public void PublicRanges_OverrideTheTable_ButNotCircuits()
    {
        AddressClassifier lab = new([IPNetwork.Parse("10.99.0.0/16"), IPNetwork.Parse("fd00:99::/32")]);

        Assert.Equal(AddressClass.Public, lab.Classify(Multiaddr.Parse("/ip4/10.99.3.4/tcp/4001")));
        Assert.Equal(AddressClass.Private, lab.Classify(Multiaddr.Parse("/ip4/10.98.3.4/tcp/4001")));   // outside the range
        Assert.Equal(AddressClass.Public, lab.Classify(Multiaddr.Parse("/ip6/fd00:99::7/tcp/4001")));
        Assert.Equal(AddressClass.Private, lab.Classify(Multiaddr.Parse("/ip6/fd00:98::7/tcp/4001")));
        Assert.Equal(AddressClass.Circuit,
            lab.Classify(Multiaddr.Parse("/ip4/10.99.3.4/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit")));
        Assert.True(lab.IsPublic(Multiaddr.Parse("/ip4/10.99.0.1/tcp/1")));
        Assert.False(AddressClassifier.Default.IsPublic(Multiaddr.Parse("/ip4/10.99.0.1/tcp/1")));
    }

    [Fact]
    public void PublicRange_CanMakeLoopbackPublic()
    {
        AddressClassifier loopbackLab = new([IPNetwork.Parse("127.0.0.0/8")]);
        Assert.Equal(AddressClass.Public, loopbackLab.Classify(Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001")));
        Assert.Equal(AddressClass.Loopback, loopbackLab.Classify(Multiaddr.Parse("/ip6/::1/tcp/4001")));
    }
}
