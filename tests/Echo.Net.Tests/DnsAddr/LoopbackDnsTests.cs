using Echo.Net.DnsAddr;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Tests.DnsAddr;

/// <summary>
/// The real TXT path: DnsClient queries a DNS server on 127.0.0.1 (this test's own), and the resolver
/// follows two levels of its answers. Nothing beyond loopback is asked or dialed.
/// </summary>
public class LoopbackDnsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task Resolve_TwoLevelsFromARealServer_SkipsWrongPeerAndQuic()
    {
        PeerId a = KeyPair.Generate().PeerId;
        PeerId b = KeyPair.Generate().PeerId;
        PeerId other = KeyPair.Generate().PeerId;
        // A long record, split into character-strings of at most 255 bytes, as DNS stores it.
        string longRecord = $"dnsaddr=/dns4/{new string('x', 60)}.{new string('y', 60)}.{new string('z', 60)}.{new string('w', 60)}.lab/tcp/4001/p2p/{a}";
        await using LoopbackDnsServer server = new(new Dictionary<string, IReadOnlyList<IReadOnlyList<string>>>
        {
            ["_dnsaddr.bootstrap.lab"] = [[$"dnsaddr=/dnsaddr/site1.bootstrap.lab/p2p/{a}"], [$"dnsaddr=/dnsaddr/site2.bootstrap.lab/p2p/{b}"]],
            ["_dnsaddr.site1.bootstrap.lab"] =
            [
                [$"dnsaddr=/ip4/127.0.0.1/tcp/4001/p2p/{a}"],
                [$"dnsaddr=/ip4/127.0.0.1/udp/4001/quic-v1/p2p/{a}"],
                [$"dnsaddr=/ip4/127.0.0.2/tcp/4001/p2p/{other}"],
                [longRecord[..200], longRecord[200..]],
            ],
            ["_dnsaddr.site2.bootstrap.lab"] = [[$"dnsaddr=/ip4/127.0.0.1/tcp/4002/p2p/{b}"]],
        });
        DnsAddrResolver resolver = new(new DnsTxtLookup(server.EndPoint, TimeSpan.FromSeconds(2)));

        IReadOnlyList<Multiaddr> found = await resolver.ResolveAsync(Multiaddr.Parse($"/dnsaddr/bootstrap.lab/p2p/{a}"), Ct);

        Assert.Equal([Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{a}"), Multiaddr.Parse(longRecord["dnsaddr=".Length..])], found);
        Assert.Equal(["_dnsaddr.bootstrap.lab", "_dnsaddr.site1.bootstrap.lab"], server.Questions);
        IReadOnlyList<Multiaddr> all = await resolver.ResolveAsync(Multiaddr.Parse("/dnsaddr/bootstrap.lab"), Ct);
        Assert.Contains(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4002/p2p/{b}"), all);
    }

    [Fact(Timeout = 30_000)]
    public async Task UnknownName_IsNoRecords_AndASilentServerIsAFailure()
    {
        await using LoopbackDnsServer server = new(new Dictionary<string, IReadOnlyList<IReadOnlyList<string>>>());
        DnsTxtLookup lookup = new(server.EndPoint, TimeSpan.FromSeconds(2));
        Assert.Empty(await lookup.LookupTxtAsync("_dnsaddr.nowhere.lab", Ct));

        // A bound UDP port that never answers.
        using System.Net.Sockets.UdpClient silent = new(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        DnsTxtLookup unanswered = new((System.Net.IPEndPoint)silent.Client.LocalEndPoint!, TimeSpan.FromMilliseconds(300), retries: 0);
        DnsLookupException e = await Assert.ThrowsAsync<DnsLookupException>(() => unanswered.LookupTxtAsync("_dnsaddr.x.lab", Ct));
        Assert.Contains("_dnsaddr.x.lab", e.Message, StringComparison.Ordinal);
    }
}
