using System.Net;
using Echo.Net.Identity;
using Echo.Net.Mdns;
using Echo.Net.Multiformats;
using Makaretu.Dns;

namespace Echo.Net.Tests.Mdns;

public sealed class MdnsMessagesTests
{
    private static readonly IReadOnlyList<string> Services = new MdnsOptions().ServiceNames;
    private static readonly PeerId Alice = NewPeer();
    private static readonly PeerId Bob = NewPeer();

    internal static PeerId NewPeer()
    {
        using KeyPair key = KeyPair.Generate();
        return key.PeerId;
    }

    private static Multiaddr Tcp(string ip, int port, PeerId peer) =>
        Multiaddr.Parse(ip.Contains(':') ? $"/ip6/{ip}/tcp/{port}" : $"/ip4/{ip}/tcp/{port}").WithPeerId(peer);

    private static Message Decode(byte[] packet) => MdnsMessages.TryRead(packet) ?? throw new InvalidOperationException("does not decode");

    [Fact]
    public void Our_answer_has_go_layout_ptr_in_answers_and_txt_srv_addresses_in_additional()
    {
        Multiaddr[] addresses = [Tcp("10.0.0.1", 4001, Alice), Tcp("fd00::1", 4001, Alice)];
        Message message = Decode(MdnsMessages.BuildResponse("_p2p._udp.local", "peername0123456789abcdefghijklmnop", addresses,
            TimeSpan.FromSeconds(120)));

        Assert.True(message.IsResponse);
        Assert.True(message.AA);
        PTRRecord ptr = Assert.IsType<PTRRecord>(Assert.Single(message.Answers));
        Assert.Equal("_p2p._udp.local", ptr.Name.ToString());
        Assert.Equal("peername0123456789abcdefghijklmnop._p2p._udp.local", ptr.DomainName.ToString());
        TXTRecord txt = Assert.Single(message.AdditionalRecords.OfType<TXTRecord>());
        Assert.Equal(ptr.DomainName, txt.Name);
        Assert.Equal(addresses.Select(a => "dnsaddr=" + a), txt.Strings);
        SRVRecord srv = Assert.Single(message.AdditionalRecords.OfType<SRVRecord>());
        Assert.Equal(ptr.DomainName, srv.Name);
        Assert.Equal(4001, srv.Port);
        Assert.Equal("peername0123456789abcdefghijklmnop.local", srv.Target.ToString());
        Assert.Equal(IPAddress.Parse("10.0.0.1"), Assert.Single(message.AdditionalRecords.OfType<ARecord>()).Address);
        Assert.Equal(IPAddress.Parse("fd00::1"), Assert.Single(message.AdditionalRecords.OfType<AAAARecord>()).Address);
        Assert.All(message.Answers.Concat(message.AdditionalRecords), r => Assert.Equal(TimeSpan.FromSeconds(120), r.TTL));
    }

    [Fact]
    public void Our_answer_reads_back_as_one_announcement()
    {
        Multiaddr[] addresses = [Tcp("10.0.0.1", 4001, Alice), Tcp("192.168.1.5", 4001, Alice)];
        foreach (string service in Services)
        {
            MdnsAnnouncement found = Assert.Single(MdnsMessages.ReadAnnouncements(
                Decode(MdnsMessages.BuildResponse(service, "x" + new string('a', 40), addresses, TimeSpan.FromSeconds(120))), Services, 12));
            Assert.Equal(service, found.ServiceName);
            Assert.Equal(Alice, found.Peer);
            Assert.Equal(addresses, found.Addresses);
            Assert.Equal(TimeSpan.FromSeconds(120), found.Ttl);
        }
    }

    [Fact]
    public void An_address_too_long_for_a_txt_string_is_not_advertised()
    {
        Multiaddr longOne = Multiaddr.Parse("/dns4/" + new string('a', 200) + ".example/tcp/1").WithPeerId(Alice);
        Message message = Decode(MdnsMessages.BuildResponse("_p2p._udp.local", new string('p', 32), [longOne, Tcp("10.0.0.1", 1, Alice)],
            TimeSpan.FromSeconds(1)));
        Assert.Equal(["dnsaddr=" + Tcp("10.0.0.1", 1, Alice)], Assert.Single(message.AdditionalRecords.OfType<TXTRecord>()).Strings);
    }

    [Fact]
    public void A_js_answer_with_txt_records_in_the_answer_section_and_no_srv_is_read()
    {
        Message js = new() { QR = true, AA = true };
        js.Answers.Add(new PTRRecord { Name = "_p2p._udp.local", DomainName = "jspeername._p2p._udp.local", TTL = TimeSpan.FromSeconds(120) });
        foreach (Multiaddr address in (Multiaddr[])[Tcp("10.1.0.2", 5000, Bob), Tcp("127.0.0.1", 5000, Bob)])
        {
            TXTRecord txt = new() { Name = "jspeername._p2p._udp.local", TTL = TimeSpan.FromSeconds(120) };
            txt.Strings.Add("dnsaddr=" + address);
            js.Answers.Add(txt);
        }
        MdnsAnnouncement found = Assert.Single(MdnsMessages.ReadAnnouncements(Decode(js.ToByteArray()), Services, 12));
        Assert.Equal(Bob, found.Peer);
        Assert.Equal(2, found.Addresses.Count);
    }

    [Fact]
    public void A_rust_answer_pointing_at_a_bare_label_with_txt_in_additional_is_read()
    {
        Message rust = new() { QR = true };
        rust.Answers.Add(new PTRRecord { Name = "_p2p._udp.local", DomainName = "rustpeer", TTL = TimeSpan.FromSeconds(360) });
        TXTRecord txt = new() { Name = "rustpeer._p2p._udp.local", TTL = TimeSpan.FromSeconds(360) };
        txt.Strings.Add("dnsaddr=" + Tcp("10.1.0.3", 6000, Bob));
        rust.AdditionalRecords.Add(txt);
        rust.AdditionalRecords.Add(new PTRRecord { Name = "_p2p._udp.local", DomainName = "decoy", TTL = TimeSpan.FromSeconds(1) });
        MdnsAnnouncement found = Assert.Single(MdnsMessages.ReadAnnouncements(Decode(rust.ToByteArray()), Services, 12));
        Assert.Equal(Bob, found.Peer);
        Assert.Equal(TimeSpan.FromSeconds(360), found.Ttl);
    }

    [Fact]
    public void Go_application_tags_are_read_and_other_services_are_not()
    {
        Multiaddr[] addresses = [Tcp("10.0.0.9", 1, Bob)];
        Assert.Single(MdnsMessages.ReadAnnouncements(
            Decode(MdnsMessages.BuildResponse("pubsub-chat-example.local", new string('g', 40), addresses, TimeSpan.FromSeconds(1))), Services, 12));
        Assert.Empty(MdnsMessages.ReadAnnouncements(
            Decode(MdnsMessages.BuildResponse("_printer._tcp.local", new string('g', 40), addresses, TimeSpan.FromSeconds(1))), Services, 12));
    }

    [Fact]
    public void Bad_txt_strings_are_skipped_and_addresses_of_another_peer_dropped()
    {
        Message message = new() { QR = true };
        message.Answers.Add(new PTRRecord { Name = "_p2p._udp.local", DomainName = "x._p2p._udp.local", TTL = TimeSpan.FromSeconds(5) });
        TXTRecord txt = new() { Name = "x._p2p._udp.local", TTL = TimeSpan.FromSeconds(5) };
        txt.Strings.AddRange([
            "dnsaddr=/ip4/10.0.0.1/tcp/1",                                 // no /p2p/
            "dnsaddr=not a multiaddr",
            "dnsaddr=/ip4/10.0.0.1/udp/1/quic-v1/p2p/" + Bob,             // not TCP
            "DNSADDR=/ip4/10.0.0.1/tcp/1/p2p/" + Bob,                      // wrong prefix
            "dnsaddr=" + Tcp("10.0.0.2", 2, Bob),
            "dnsaddr=" + Tcp("10.0.0.3", 3, Alice),                        // another peer
            "",
        ]);
        message.AdditionalRecords.Add(txt);
        MdnsAnnouncement found = Assert.Single(MdnsMessages.ReadAnnouncements(Decode(message.ToByteArray()), Services, 12));
        Assert.Equal([Tcp("10.0.0.2", 2, Bob)], found.Addresses);
    }

    [Fact]
    public void Service_and_instance_names_match_whatever_the_case()
    {
        Message message = new() { QR = true };
        message.Answers.Add(new PTRRecord { Name = "_P2P._UDP.Local", DomainName = "PeerX._P2P._udp.local", TTL = TimeSpan.FromSeconds(5) });
        TXTRecord txt = new() { Name = "peerx._p2p._UDP.LOCAL", TTL = TimeSpan.FromSeconds(5) };
        txt.Strings.Add("dnsaddr=" + Tcp("10.0.0.2", 2, Bob));
        message.AdditionalRecords.Add(txt);
        message.Answers.Add(new PTRRecord { Name = "_p2p._udp.local", DomainName = "other._p2p._udp.local", TTL = TimeSpan.FromSeconds(5) });
        MdnsAnnouncement found = Assert.Single(MdnsMessages.ReadAnnouncements(Decode(message.ToByteArray()), Services, 12));
        Assert.Equal("_p2p._udp.local", found.ServiceName);
        Assert.Equal(Bob, found.Peer);
    }

    [Fact]
    public void The_work_per_packet_is_capped_in_instances_and_txt_strings()
    {
        Message message = new() { QR = true };
        PeerId[] peers = [.. Enumerable.Range(0, MdnsMessages.MaxInstancesPerPacket + 5).Select(_ => NewPeer())];
        for (int i = 0; i < peers.Length; i++)
        {
            string instance = $"peer{i}._p2p._udp.local";
            message.Answers.Add(new PTRRecord { Name = "_p2p._udp.local", DomainName = instance, TTL = TimeSpan.FromSeconds(5) });
            TXTRecord txt = new() { Name = instance, TTL = TimeSpan.FromSeconds(5) };
            txt.Strings.Add("dnsaddr=" + Tcp("10.0.0.2", i + 1, peers[i]));
            message.AdditionalRecords.Add(txt);
        }
        IReadOnlyList<MdnsAnnouncement> found = MdnsMessages.ReadAnnouncements(Decode(message.ToByteArray()), Services, 12);
        Assert.Equal(peers[..MdnsMessages.MaxInstancesPerPacket], found.Select(f => f.Peer));

        // One instance: its first strings are junk, the good address comes too late to be looked at.
        Message junk = new() { QR = true };
        junk.Answers.Add(new PTRRecord { Name = "_p2p._udp.local", DomainName = "x._p2p._udp.local", TTL = TimeSpan.FromSeconds(5) });
        TXTRecord strings = new() { Name = "x._p2p._udp.local", TTL = TimeSpan.FromSeconds(5) };
        strings.Strings.AddRange(Enumerable.Range(0, MdnsMessages.MaxTxtStringsPerInstance).Select(i => $"junk{i}"));
        strings.Strings.Add("dnsaddr=" + Tcp("10.0.0.2", 2, Bob));
        junk.AdditionalRecords.Add(strings);
        Assert.Empty(MdnsMessages.ReadAnnouncements(Decode(junk.ToByteArray()), Services, 12));
        strings.Strings.RemoveAt(0);
        Assert.Single(MdnsMessages.ReadAnnouncements(Decode(junk.ToByteArray()), Services, 12));
    }

    [Fact]
    public void Queries_are_recognised_by_name_whatever_the_case()
    {
        Message query = Decode(MdnsMessages.BuildQuery(Services));
        Assert.True(query.IsQuery);
        Assert.Equal("_p2p._udp.local", query.Questions[0].Name.ToString());
        Assert.Equal(Services, MdnsMessages.QueriedServices(query, Services));

        Message upper = new();
        upper.Questions.Add(new Question { Name = "_P2P._UDP.LOCAL", Type = DnsType.ANY });
        upper.Questions.Add(new Question { Name = "_p2p._udp.local", Type = DnsType.A });
        Assert.Equal(["_p2p._udp.local"], MdnsMessages.QueriedServices(Decode(upper.ToByteArray()), Services));
    }

    [Fact]
    public void Oversized_and_compression_loop_packets_are_rejected()
    {
        Assert.Null(MdnsMessages.TryRead(new byte[MdnsMessages.MaxPacketBytes + 1]));
        Assert.Null(MdnsMessages.TryRead(new byte[5]));
        byte[] loop = [0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xC0, 12, 0, 12, 0, 1, 0, 0, 0, 120, 0, 2, 0xC0, 12];
        Assert.Null(MdnsMessages.TryRead(loop));
    }

    [Fact]
    public void A_header_claiming_more_entries_than_the_packet_holds_is_rejected_before_decoding()
    {
        Message message = new() { QR = true };
        message.Answers.Add(new PTRRecord { Name = "_p2p._udp.local", DomainName = "x._p2p._udp.local" });
        byte[] packet = message.ToByteArray();
        Assert.NotNull(MdnsMessages.TryRead(packet));
        packet[6] = 0x27;                                               // 0x2701 answers in a few dozen bytes
        Assert.Null(MdnsMessages.TryRead(packet));
        byte[] questions = MdnsMessages.BuildQuery(["_p2p._udp.local"]);
        Assert.NotNull(MdnsMessages.TryRead(questions));
        questions[4] = 1;                                               // 257 questions
        Assert.Null(MdnsMessages.TryRead(questions));
    }

    [Fact]
    public void Only_packets_spelling_out_one_of_our_service_labels_may_concern_us()
    {
        byte[][] labels = MdnsMessages.FirstLabels(Services);
        Assert.Equal(["_p2p", "echo-go-mdns", "pubsub-chat-example"], labels.Select(l => System.Text.Encoding.ASCII.GetString(l, 1, l[0])));
        Multiaddr[] addresses = [Tcp("10.0.0.9", 1, Bob)];
        foreach (string service in Services.Append("_P2P._UDP.LOCAL").Append("Echo-Go-Mdns.local"))
        {
            Assert.True(MdnsMessages.MayConcern(MdnsMessages.BuildResponse(service, new string('g', 40), addresses, TimeSpan.FromSeconds(1)), labels));
            Assert.True(MdnsMessages.MayConcern(MdnsMessages.BuildQuery([service]), labels));
        }
        Assert.False(MdnsMessages.MayConcern(MdnsMessages.BuildResponse("_printer._tcp.local", new string('g', 40), addresses, TimeSpan.FromSeconds(1)), labels));
        Assert.False(MdnsMessages.MayConcern(MdnsMessages.BuildQuery(["_p2px._udp.local", "_p2._udp.local"]), labels));
        Message a = new() { QR = true };
        a.Answers.Add(new ARecord { Name = "p2p.local", Address = IPAddress.Parse("10.0.0.1") });
        Assert.False(MdnsMessages.MayConcern(a.ToByteArray(), labels));
        byte[] cut = MdnsMessages.BuildQuery(["_p2p._udp.local"]);
        Assert.False(MdnsMessages.MayConcern(cut.AsSpan(0, 15), labels));     // the label cut short
        Assert.True(MdnsMessages.MayConcern(cut.AsSpan(0, 17), labels));
    }

    [Fact]
    public void Peer_names_are_random_and_long_enough()
    {
        HashSet<string> names = [];
        for (int i = 0; i < 100; i++)
        {
            string name = MdnsPeerName.Create();
            Assert.InRange(name.Length, MdnsPeerName.MinLength, MdnsPeerName.MaxLength);
            Assert.Matches("^[a-z0-9]+$", name);
            names.Add(name);
        }
        Assert.Equal(100, names.Count);
    }

    [Fact]
    public void Our_answer_carries_neither_nick_nor_peer_id_in_its_names()
    {
        string peerName = MdnsPeerName.Create();
        Message message = Decode(MdnsMessages.BuildResponse("_p2p._udp.local", peerName, [Tcp("10.0.0.1", 1, Alice)], TimeSpan.FromSeconds(1)));
        foreach (ResourceRecord record in message.Answers.Concat(message.AdditionalRecords))
            Assert.DoesNotContain(Alice.ToString(), record.Name.ToString(), StringComparison.OrdinalIgnoreCase);
    }
}
