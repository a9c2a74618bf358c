using System.Net;
using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Echo.Net.Identity;
using Echo.Net.Mdns;
using Echo.Net.Multiformats;
using Makaretu.Dns;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Bench;

/// <summary>
/// What one hostile mDNS packet costs a node that is not rate limiting it: decoding and reading
/// the packet, and the whole path through discovery (peer table included) with a full table.
/// </summary>
[MemoryDiagnoser]
public class MdnsBenchmarks
{
    private static readonly IPEndPoint Source = new(IPAddress.Parse("10.0.0.9"), 5353);
    private static readonly string Service = MdnsOptions.Libp2pService;
    private readonly IReadOnlyList<string> _services = new MdnsOptions().ServiceNames;
    private byte[][] _manyPeers = [];
    private byte[] _tenThousand = [];
    private byte[] _aRecords = [];
    private Message _decoded = null!;
    private MdnsDiscovery _discovery = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _manyPeers = [.. Enumerable.Range(0, 64).Select(_ => ManyMadeUpPeers(32))];
        _decoded = MdnsMessages.TryRead(_manyPeers[0])!;
        List<byte> header = [0, 0, 0x84, 0, 0, 0, 0x27, 0x10, 0, 0, 0, 0];
        header.AddRange(new Message { QR = true, Answers = { new PTRRecord { Name = Service, DomainName = "x." + Service } } }.ToByteArray()[12..]);
        while (header.Count + 14 <= MdnsMessages.MaxPacketBytes)
            header.AddRange([0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 120, 0, 2, 0xc0, 12]);
        _tenThousand = [.. header];
        Message a = new() { QR = true };
        for (int i = 0; a.ToByteArray().Length < MdnsMessages.MaxPacketBytes - 200; i++)
            a.AdditionalRecords.Add(new ARecord { Name = "h.local", Address = new IPAddress([10, 9, (byte)(i / 256), (byte)i]) });
        _aRecords = a.ToByteArray();
        _discovery = new MdnsDiscovery(PeerId.FromBytes([0x12, 0x20, .. RandomNumberGenerator.GetBytes(32)]), () => [],
            new MdnsOptions(), NullLoggerFactory.Instance);
        foreach (byte[] packet in _manyPeers)
            _discovery.HandlePacket(packet, Source, 1);
    }

    [GlobalCleanup]
    public void Cleanup() => _discovery.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Description = "read 32 made-up peers (decoded)")]
    public int ReadAnnouncements() => MdnsMessages.ReadAnnouncements(_decoded, _services, 12).Count;

    [Benchmark(Description = "handle 32 made-up peers, full table")]
    public void HandleManyPeers() => _discovery.HandlePacket(_manyPeers[_next++ % _manyPeers.Length], Source, 1);

    [Benchmark(Description = "handle a header claiming 10,000 answers")]
    public void HandleTenThousand() => _discovery.HandlePacket(_tenThousand, Source, 1);

    [Benchmark(Description = "handle 9,000 bytes of A records")]
    public void HandleARecords() => _discovery.HandlePacket(_aRecords, Source, 1);

    private static byte[] ManyMadeUpPeers(int count)
    {
        Message response = new() { QR = true, AA = true };
        for (int i = 0; i < count; i++)
        {
            DomainName instance = DomainName.Join(new DomainName(MdnsPeerName.Create()), new DomainName(Service));
            response.Answers.Add(new PTRRecord { Name = Service, DomainName = instance, TTL = TimeSpan.FromMinutes(2) });
            PeerId peer = PeerId.FromBytes([0x12, 0x20, .. RandomNumberGenerator.GetBytes(32)]);
            TXTRecord txt = new() { Name = instance, TTL = TimeSpan.FromMinutes(2) };
            txt.Strings.Add(MdnsMessages.DnsaddrPrefix + Multiaddr.Parse($"/ip4/198.51.100.{i + 1}/tcp/4001").WithPeerId(peer));
            response.AdditionalRecords.Add(txt);
        }
        return response.ToByteArray();
    }
}
