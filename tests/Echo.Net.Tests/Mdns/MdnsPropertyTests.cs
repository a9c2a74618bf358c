using CsCheck;
using Echo.Net.Mdns;
using Echo.Net.Multiformats;
using Makaretu.Dns;

namespace Echo.Net.Tests.Mdns;

/// <summary>Packets from the network are untrusted: no input may throw or yield more than the limits allow.</summary>
public sealed class MdnsPropertyTests
{
    private static readonly IReadOnlyList<string> Services = new MdnsOptions().ServiceNames;
    private static readonly byte[] Valid = MdnsMessages.BuildResponse("_p2p._udp.local", new string('a', 40),
        [Multiaddr.Parse("/ip4/10.0.0.1/tcp/4001").WithPeerId(MdnsMessagesTests.NewPeer()),
         Multiaddr.Parse("/ip6/fd00::1/tcp/4001").WithPeerId(MdnsMessagesTests.NewPeer())], TimeSpan.FromSeconds(120));

    private static void ReadEverything(byte[] packet)
    {
        if (MdnsMessages.TryRead(packet) is not { } message)
            return;
        MdnsMessages.QueriedServices(message, Services);
        IReadOnlyList<MdnsAnnouncement> found = MdnsMessages.ReadAnnouncements(message, Services, 12);
        Assert.True(found.Count <= MdnsMessages.MaxInstancesPerPacket);
        Assert.All(found, a => Assert.InRange(a.Addresses.Count, 0, 12));
    }

    [Fact(Timeout = 120_000)]
    public void Random_bytes_never_throw() =>
        Gen.Byte.Array[0, 600].Sample(ReadEverything, iter: 20_000);

    [Fact(Timeout = 120_000)]
    public void Mutated_answers_never_throw() =>
        Gen.Select(Gen.Int[0, Valid.Length - 1].Array[1, 8], Gen.Byte.Array[8], Gen.Int[0, Valid.Length]).Sample((positions, values, cut) =>
        {
            byte[] packet = Valid[..cut];
            for (int i = 0; i < positions.Length; i++)
            {
                if (positions[i] < packet.Length)
                    packet[positions[i]] = values[i];
            }
            ReadEverything(packet);
        }, iter: 50_000);

    [Fact(Timeout = 120_000)]
    public void Generated_txt_strings_never_throw_and_only_dialable_addresses_come_out() =>
        Gen.Select(Gen.String[Gen.Char.AlphaNumeric, 0, 60].Array[0, 20], Gen.Int[0, 3600]).Sample((strings, ttl) =>
        {
            Message message = new() { QR = true };
            message.Answers.Add(new PTRRecord { Name = "_p2p._udp.local", DomainName = "p._p2p._udp.local", TTL = TimeSpan.FromSeconds(ttl) });
            TXTRecord txt = new() { Name = "p._p2p._udp.local", TTL = TimeSpan.FromSeconds(ttl) };
            txt.Strings.AddRange(strings.Select(s => "dnsaddr=/" + s));
            message.AdditionalRecords.Add(txt);
            foreach (MdnsAnnouncement found in MdnsMessages.ReadAnnouncements(message, Services, 12))
                Assert.All(found.Addresses, a => Assert.True(a.TryGetTcpEndPoint(out _) && a.PeerId == found.Peer));
        }, iter: 20_000);
}
