using Echo.Core.Files;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols.Files;

namespace Echo.Protocols.Tests.Files;

/// <summary>The addresses a file offer carries: read bounded from the network, and our own for an offer we make.</summary>
public sealed class OfferAddressesTests
{
    private static readonly string Offerer = KeyPair.Generate().PeerId.ToString();

    [Fact]
    public void OfferAddresses_KeepsBoundedDialableTcpAddresses_OfTheOfferer()
    {
        string[] raw =
        [
            "/ip4/127.0.0.1/tcp/4001",                              // loopback: kept (one machine)
            $"/ip4/192.168.1.20/tcp/4001/p2p/{Offerer}",            // its own id: kept, without it
            $"/ip4/192.168.1.21/tcp/4001/p2p/{KeyPair.Generate().PeerId}",   // another peer's: dropped
            "/ip4/0.0.0.0/tcp/4001",                                 // unspecified: dropped
            "/ip4/10.0.0.1/tcp/0",                                   // port 0: dropped
            "/ip4/10.0.0.1/udp/4001/quic-v1",                        // not TCP: dropped
            "/dns4/example.test/tcp/4001",                           // a name: kept
            "/ip6/::1/tcp/4001",
            "not a multiaddr",
            "/ip4/10.0.0.1/tcp/1" + new string('0', 300),            // too long: dropped
            "/ip4/127.0.0.1/tcp/4001",                               // duplicate: dropped
        ];

        Assert.Equal(["/ip4/127.0.0.1/tcp/4001", "/ip4/192.168.1.20/tcp/4001", "/dns4/example.test/tcp/4001", "/ip6/::1/tcp/4001"],
            OfferAddresses.Read(raw, Offerer));
        Assert.Equal(FileOffer.MaxAddresses,
            OfferAddresses.Read(Enumerable.Range(1, 1000).Select(i => $"/ip4/10.0.{i / 250}.{i % 250}/tcp/4001"), Offerer)!.Count);
        Assert.Null(OfferAddresses.Read(Enumerable.Repeat("junk", 1000).Append("/ip4/10.0.0.1/tcp/4001"), Offerer));
        Assert.Null(OfferAddresses.Read(null, Offerer));
    }

    [Fact]
    public void Read_PeerIdInAnAddress_WhenTheOffererIsNoPeerId_IsDropped()
    {
        string named = $"/ip4/10.0.0.1/tcp/4001/p2p/{KeyPair.Generate().PeerId}";

        Assert.Null(OfferAddresses.Read([named], "not a peer id"));
        Assert.Equal(["/ip4/10.0.0.1/tcp/4001"], OfferAddresses.Read([named, "/ip4/10.0.0.1/tcp/4001"], "not a peer id"));
    }

    [Fact]
    public void Read_NullEntries_AreSkipped()
    {
        Assert.Equal(["/ip4/10.0.0.1/tcp/4001"], OfferAddresses.Read([null, "/ip4/10.0.0.1/tcp/4001", null], Offerer));
    }

    [Fact]
    public void Read_EntriesBeyondMaxEntriesRead_AreNotLookedAt()
    {
        const string Valid = "/ip4/10.0.0.1/tcp/4001";

        Assert.Equal([Valid], OfferAddresses.Read(Enumerable.Repeat("junk", OfferAddresses.MaxEntriesRead - 1).Append(Valid), Offerer));
        Assert.Null(OfferAddresses.Read(Enumerable.Repeat("junk", OfferAddresses.MaxEntriesRead).Append(Valid), Offerer));
    }

    [Fact]
    public void Read_AddressOfExactlyMaxAddressLength_IsKept()
    {
        string prefix = "/dns4/";
        string suffix = ".test/tcp/4001";
        string exact = prefix + new string('a', FileOffer.MaxAddressLength - prefix.Length - suffix.Length) + suffix;
        Assert.Equal(FileOffer.MaxAddressLength, exact.Length);

        Assert.Equal([exact], OfferAddresses.Read([exact], Offerer));
        Assert.Null(OfferAddresses.Read([exact.Replace("/dns4/", "/dns4/a", StringComparison.Ordinal)], Offerer));
    }

    [Fact]
    public void Own_KeepsDialableAddressesOnceWithoutPeerId_UpToTheLimit()
    {
        PeerId self = KeyPair.Generate().PeerId;
        Multiaddr[] advertised =
        [
            Multiaddr.Parse("/ip4/0.0.0.0/tcp/4001"),
            Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001").WithPeerId(self),
            Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001"),
            Multiaddr.Parse("/ip6/::1/tcp/4001"),
        ];

        Assert.Equal(["/ip4/127.0.0.1/tcp/4001", "/ip6/::1/tcp/4001"], OfferAddresses.Own(advertised));
        Assert.Equal(FileOffer.MaxAddresses,
            OfferAddresses.Own(Enumerable.Range(1, 100).Select(i => Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{i}")))!.Count);
        Assert.Null(OfferAddresses.Own([Multiaddr.Parse("/ip4/0.0.0.0/tcp/4001")]));
        Assert.Null(OfferAddresses.Own([]));
    }

    [Theory]
    [InlineData("/ip4/127.0.0.1/tcp/4001", true)]
    [InlineData("/ip6/::1/tcp/4001", true)]
    [InlineData("/dns4/example.test/tcp/4001", true)]
    [InlineData("/ip4/0.0.0.0/tcp/4001", false)]
    [InlineData("/ip6/::/tcp/4001", false)]
    [InlineData("/ip4/255.255.255.255/tcp/4001", false)]
    [InlineData("/ip4/224.0.0.251/tcp/4001", false)]
    [InlineData("/ip4/239.255.255.255/tcp/4001", false)]
    [InlineData("/ip6/ff02::fb/tcp/4001", false)]
    [InlineData("/ip4/127.0.0.1/tcp/0", false)]
    [InlineData("/dns4/example.test/tcp/0", false)]
    public void IsDialable_ConcreteTcpAddressOrName(string address, bool dialable)
    {
        Assert.Equal(dialable, OfferAddresses.IsDialable(Multiaddr.Parse(address)));
    }
}
