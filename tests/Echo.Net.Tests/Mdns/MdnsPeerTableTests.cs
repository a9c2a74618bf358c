using System.Net;
using Echo.Net.Identity;
using Echo.Net.Mdns;
using Echo.Net.Multiformats;

namespace Echo.Net.Tests.Mdns;

public sealed class MdnsPeerTableTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static Multiaddr Address(int i, PeerId peer) => Multiaddr.Parse($"/ip4/10.0.{i / 250}.{i % 250 + 1}/tcp/4001").WithPeerId(peer);

    [Fact]
    public void A_flood_of_peers_keeps_at_most_the_limit_and_the_newest()
    {
        MdnsPeerTable table = new(64, 12, TimeSpan.FromMinutes(10));
        PeerId[] peers = [.. Enumerable.Range(0, 1000).Select(_ => MdnsMessagesTests.NewPeer())];
        for (int i = 0; i < peers.Length; i++)
            Assert.True(table.Update(peers[i], [Address(i, peers[i])], TimeSpan.FromSeconds(120), T0 + TimeSpan.FromMilliseconds(i)));
        Assert.Equal(64, table.Count);
        Assert.Equal(1000 - 64, table.Evicted);
        Assert.NotEmpty(table.Addresses(peers[^1], T0));
        Assert.Empty(table.Addresses(peers[0], T0));
    }

    [Fact]
    public void Addresses_expire_at_their_ttl_capped_and_goodbye_forgets()
    {
        PeerId peer = MdnsMessagesTests.NewPeer();
        MdnsPeerTable table = new(64, 12, TimeSpan.FromMinutes(10));
        Assert.True(table.Update(peer, [Address(1, peer)], TimeSpan.FromSeconds(120), T0));
        Assert.False(table.Update(peer, [Address(1, peer)], TimeSpan.FromSeconds(120), T0));           // a refresh
        Assert.Single(table.Addresses(peer, T0 + TimeSpan.FromSeconds(119)));
        Assert.Empty(table.Addresses(peer, T0 + TimeSpan.FromSeconds(120)));
        table.Expire(T0 + TimeSpan.FromSeconds(120));
        Assert.Equal(0, table.Count);

        table.Update(peer, [Address(2, peer)], TimeSpan.FromDays(30), T0);
        Assert.Empty(table.Addresses(peer, T0 + TimeSpan.FromMinutes(10)));

        table.Update(peer, [Address(3, peer)], TimeSpan.FromSeconds(120), T0);
        table.Update(peer, [Address(3, peer)], TimeSpan.Zero, T0);                     // goodbye forgets what it names
        Assert.Equal([Address(2, peer)], table.Addresses(peer, T0));
        table.Update(peer, [Address(2, peer)], TimeSpan.Zero, T0);
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void Expiry_is_exact_whatever_order_records_are_refreshed_in()
    {
        PeerId early = MdnsMessagesTests.NewPeer(), late = MdnsMessagesTests.NewPeer();
        MdnsPeerTable table = new(64, 12, TimeSpan.FromMinutes(10));
        table.Update(late, [Address(1, late)], TimeSpan.FromSeconds(100), T0);
        table.Update(early, [Address(2, early)], TimeSpan.FromSeconds(10), T0);
        table.Update(early, [Address(2, early)], TimeSpan.FromSeconds(50), T0);          // refreshed to a later end
        table.Expire(T0 + TimeSpan.FromSeconds(10));
        Assert.Equal(2, table.Count);
        table.Expire(T0 + TimeSpan.FromSeconds(50));
        Assert.Equal(1, table.Count);
        table.Update(early, [Address(3, early)], TimeSpan.FromSeconds(5), T0 + TimeSpan.FromSeconds(60));
        table.Expire(T0 + TimeSpan.FromSeconds(64));
        Assert.Equal(2, table.Count);
        table.Expire(T0 + TimeSpan.FromSeconds(65));
        Assert.Equal([late], new[] { early, late }.Where(p => table.Addresses(p, T0 + TimeSpan.FromSeconds(65)).Count > 0));
        Assert.Equal(1, table.Count);
        table.Expire(T0 + TimeSpan.FromSeconds(100));
        Assert.Equal(0, table.Count);
    }

    [Fact]
    public void Addresses_per_peer_are_bounded()
    {
        PeerId peer = MdnsMessagesTests.NewPeer();
        MdnsPeerTable table = new(64, 12, TimeSpan.FromMinutes(10));
        for (int i = 0; i < 100; i++)
            table.Update(peer, [Address(i, peer)], TimeSpan.FromSeconds(120), T0 + TimeSpan.FromSeconds(i));
        IReadOnlyList<Multiaddr> kept = table.Addresses(peer, T0 + TimeSpan.FromSeconds(100));
        Assert.Equal(12, kept.Count);
        Assert.Equal(Address(99, peer), kept[0]);
    }
}

public sealed class MdnsAddressFilterTests
{
    private static readonly PeerId Peer = MdnsMessagesTests.NewPeer();

    private static Multiaddr? Dialable(string address, string source, int nic = 3, bool sourceIsLocal = false) =>
        MdnsAddressFilter.Dialable(Multiaddr.Parse(address).WithPeerId(Peer), IPAddress.Parse(source), nic, _ => sourceIsLocal);

    [Theory]
    [InlineData("/ip4/10.0.0.2/tcp/1", true)]
    [InlineData("/ip6/fd00::2/tcp/1", true)]
    [InlineData("/ip4/127.0.0.1/tcp/1", false)]
    [InlineData("/ip6/::1/tcp/1", false)]
    [InlineData("/ip4/0.0.0.0/tcp/1", false)]
    [InlineData("/ip6/fe80::1/tcp/1", false)]
    [InlineData("/ip4/10.0.0.2/tcp/0", false)]
    public void Only_addresses_a_neighbour_can_dial_are_advertised(string address, bool advertised) =>
        Assert.Equal(advertised, MdnsAddressFilter.IsAdvertisable(Multiaddr.Parse(address)));

    [Fact]
    public void Unusable_addresses_received_are_ignored()
    {
        Assert.NotNull(Dialable("/ip4/10.0.0.2/tcp/1", "10.0.0.2"));
        Assert.NotNull(Dialable("/ip4/192.168.7.2/tcp/1", "10.0.0.2"));      // another subnet of the same peer
        Assert.Null(Dialable("/ip4/0.0.0.0/tcp/1", "10.0.0.2"));
        Assert.Null(Dialable("/ip4/224.0.0.251/tcp/1", "10.0.0.2"));
        Assert.Null(Dialable("/ip4/255.255.255.255/tcp/1", "10.0.0.2"));
        Assert.Null(Dialable("/ip6/::/tcp/1", "10.0.0.2"));
        Assert.Null(Dialable("/ip6/ff02::fb/tcp/1", "10.0.0.2"));
    }

    [Fact]
    public void Loopback_is_dialed_only_when_the_sender_is_this_machine()
    {
        Assert.Null(Dialable("/ip4/127.0.0.1/tcp/1", "10.0.0.2"));
        Assert.NotNull(Dialable("/ip4/127.0.0.1/tcp/1", "10.0.0.2", sourceIsLocal: true));
        Assert.NotNull(Dialable("/ip4/127.0.0.1/tcp/1", "127.0.0.1"));
    }

    [Fact]
    public void A_link_local_ipv6_address_gets_the_receiving_interface_as_its_zone()
    {
        Assert.Equal("/ip6zone/3/ip6/fe80::1/tcp/1/p2p/" + Peer, Dialable("/ip6/fe80::1/tcp/1", "fe80::1")?.ToString());
        Assert.Null(Dialable("/ip6/fe80::1/tcp/1", "fe80::1", nic: 0));
    }
}
