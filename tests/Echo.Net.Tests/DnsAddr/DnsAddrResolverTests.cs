using Echo.Net.DnsAddr;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Tests.DnsAddr;

/// <summary>
/// /dnsaddr resolution against a table of TXT records: recursion, the depth and loop bounds, the
/// /p2p filter, transports Echo does not speak, malformed records and failed lookups. No address
/// here is ever dialed.
/// </summary>
public class DnsAddrResolverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly PeerId A = KeyPair.Generate().PeerId;
    private static readonly PeerId B = KeyPair.Generate().PeerId;
    private static readonly PeerId C = KeyPair.Generate().PeerId;

    private static Multiaddr M(string text) => Multiaddr.Parse(text);

    /// <summary>The lab's layout: a list naming one site per peer, each site a mix of transports.</summary>
    private static FakeTxtLookup TwoLevels() => new(new Dictionary<string, string[]>
    {
        ["_dnsaddr.bootstrap.lab"] =
        [
            $"dnsaddr=/dnsaddr/site1.bootstrap.lab/p2p/{A}",
            $"dnsaddr=/dnsaddr/site2.bootstrap.lab/p2p/{B}",
            "v=spf1 -all",
        ],
        ["_dnsaddr.site1.bootstrap.lab"] =
        [
            $"dnsaddr=/ip4/10.203.0.1/tcp/4001/p2p/{A}",
            $"dnsaddr=/ip4/10.203.0.1/udp/4001/quic-v1/p2p/{A}",
            $"dnsaddr=/ip6/fd00::1/tcp/4001/p2p/{A}",
            $"dnsaddr=/dns4/site1.bootstrap.lab/tcp/443/tls/ws/p2p/{A}",
            $"dnsaddr=/ip4/10.203.0.9/tcp/4001/p2p/{C}",
        ],
        ["_dnsaddr.site2.bootstrap.lab"] =
        [
            $"dnsaddr=/ip4/10.203.0.2/tcp/4001/p2p/{B}",
            $"dnsaddr=/dns4/site2.bootstrap.lab/tcp/4001/p2p/{B}",
        ],
    });

    [Fact]
    public async Task TwoLevels_KeepOnlyTheRequestedPeersTcpAddresses()
    {
        FakeTxtLookup lookup = TwoLevels();
        DnsAddrResolver resolver = new(lookup);

        IReadOnlyList<Multiaddr> found = await resolver.ResolveAsync(M($"/dnsaddr/bootstrap.lab/p2p/{A}"), Ct);

        Assert.Equal([M($"/ip4/10.203.0.1/tcp/4001/p2p/{A}"), M($"/ip6/fd00::1/tcp/4001/p2p/{A}")], found);
        // B's site is named for B, so it is not even looked up.
        Assert.Equal(["_dnsaddr.bootstrap.lab", "_dnsaddr.site1.bootstrap.lab"], lookup.Questions);
    }

    [Fact]
    public async Task WithoutPeerId_EveryTcpAddressOfEverySite_EachSiteFilteredByItsOwnPeer()
    {
        DnsAddrResolver resolver = new(TwoLevels());

        IReadOnlyList<Multiaddr> found = await resolver.ResolveAsync(M("/dnsaddr/bootstrap.lab"), Ct);

        Assert.Equal(
        [
            M($"/ip4/10.203.0.1/tcp/4001/p2p/{A}"), M($"/ip6/fd00::1/tcp/4001/p2p/{A}"),
            M($"/ip4/10.203.0.2/tcp/4001/p2p/{B}"), M($"/dns4/site2.bootstrap.lab/tcp/4001/p2p/{B}"),
        ], found);
    }

    [Fact]
    public async Task WrongPeerIdAndOtherTransports_AreDroppedAndSaidWhyAtDebug()
    {
        RecordingLoggerFactory logs = new();
        DnsAddrResolver resolver = new(TwoLevels(), logger: logs.CreateLogger("test"));

        IReadOnlyList<Multiaddr> found = await resolver.ResolveAsync(M($"/dnsaddr/site1.bootstrap.lab/p2p/{A}"), Ct);

        Assert.DoesNotContain(found, a => a.PeerId != A);
        Assert.DoesNotContain(found, a => a.ToString().Contains("quic", StringComparison.Ordinal) || a.ToString().Contains("/ws", StringComparison.Ordinal));
        IReadOnlyList<RecordingLoggerFactory.Entry> skipped = logs.Where(e => e.EventId == 2601);
        Assert.Equal(3, skipped.Count);
        Assert.All(skipped, e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.Contains(skipped, e => e.Message.Contains(C.ToString(), StringComparison.Ordinal) && e.Message.Contains("does not end in", StringComparison.Ordinal));
        Assert.Contains(skipped, e => e.Message.Contains("quic-v1", StringComparison.Ordinal) && e.Message.Contains("transport", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Recursion_StopsAtFourLookupsDeep()
    {
        Dictionary<string, string[]> chain = [];
        for (int level = 1; level <= 6; level++)
        {
            chain[$"_dnsaddr.d{level}.lab"] = [$"dnsaddr=/dnsaddr/d{level + 1}.lab", $"dnsaddr=/ip4/10.203.1.{level}/tcp/4001"];
        }
        FakeTxtLookup lookup = new(chain);
        RecordingLoggerFactory logs = new();
        DnsAddrResolver resolver = new(lookup, logger: logs.CreateLogger("test"));

        IReadOnlyList<Multiaddr> found = await resolver.ResolveAsync(M("/dnsaddr/d1.lab"), Ct);

        Assert.Equal(["_dnsaddr.d1.lab", "_dnsaddr.d2.lab", "_dnsaddr.d3.lab", "_dnsaddr.d4.lab"], lookup.Questions);
        Assert.Equal([.. Enumerable.Range(1, 4).Reverse().Select(n => M($"/ip4/10.203.1.{n}/tcp/4001"))], found);
        Assert.Contains(logs.Where(e => e.EventId == 2602), e => e.Message.Contains("more than 4 dnsaddr lookups deep", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Loop_EachNameIsLookedUpOnce()
    {
        FakeTxtLookup lookup = new(new Dictionary<string, string[]>
        {
            ["_dnsaddr.a.lab"] = ["dnsaddr=/dnsaddr/b.lab", "dnsaddr=/ip4/10.203.2.1/tcp/1"],
            ["_dnsaddr.b.lab"] = ["dnsaddr=/dnsaddr/a.lab", "dnsaddr=/dnsaddr/A.lab.", "dnsaddr=/ip4/10.203.2.2/tcp/2"],
        });
        DnsAddrResolver resolver = new(lookup);

        IReadOnlyList<Multiaddr> found = await resolver.ResolveAsync(M("/dnsaddr/a.lab"), Ct);

        Assert.Equal(["_dnsaddr.a.lab", "_dnsaddr.b.lab"], lookup.Questions);
        Assert.Equal([M("/ip4/10.203.2.2/tcp/2"), M("/ip4/10.203.2.1/tcp/1")], found);
    }

    [Fact]
    public async Task ManyNames_AtMostThirtyTwoLookupsPerResolution()
    {
        Dictionary<string, string[]> names = new()
        {
            ["_dnsaddr.list.lab"] = [.. Enumerable.Range(1, 32).Select(n => $"dnsaddr=/dnsaddr/s{n}.lab")],
        };
        for (int n = 1; n <= 32; n++)
            names[$"_dnsaddr.s{n}.lab"] = [$"dnsaddr=/ip4/10.203.6.{n}/tcp/4001"];
        FakeTxtLookup lookup = new(names);
        RecordingLoggerFactory logs = new();
        DnsAddrResolver resolver = new(lookup, logger: logs.CreateLogger("test"));

        IReadOnlyList<Multiaddr> found = await resolver.ResolveAsync(M("/dnsaddr/list.lab"), Ct);

        Assert.Equal(["_dnsaddr.list.lab", .. Enumerable.Range(1, 31).Select(n => $"_dnsaddr.s{n}.lab")], lookup.Questions);
        Assert.Equal([.. Enumerable.Range(1, 31).Select(n => M($"/ip4/10.203.6.{n}/tcp/4001"))], found);
        Assert.Contains(logs.Where(e => e.EventId == 2602), e => e.Message.Contains("32 lookups made already", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MalformedRecords_AreSkippedWithAWarningNamingThem_TheRestKept()
    {
        FakeTxtLookup lookup = new(new Dictionary<string, string[]>
        {
            ["_dnsaddr.bad.lab"] =
            [
                "dnsaddr=/ip4/999.1.1.1/tcp/1",
                "dnsaddr=not a multiaddr",
                "dnsaddr=/ip4/10.203.3.1/tcp/1/frob",
                "dnsaddr=",
                "dnsaddr=/ip4/10.203.3.2/tcp/4001",
            ],
        });
        RecordingLoggerFactory logs = new();
        DnsAddrResolver resolver = new(lookup, logger: logs.CreateLogger("test"));

        IReadOnlyList<Multiaddr> found = await resolver.ResolveAsync(M("/dnsaddr/bad.lab"), Ct);

        Assert.Equal([M("/ip4/10.203.3.2/tcp/4001")], found);
        IReadOnlyList<RecordingLoggerFactory.Entry> warnings = logs.Where(e => e.EventId == 2600);
        Assert.Equal(4, warnings.Count);
        Assert.All(warnings, e => Assert.Equal(LogLevel.Warning, e.Level));
        Assert.Contains(warnings, e => e.Message.Contains("\"/ip4/999.1.1.1/tcp/1\"", StringComparison.Ordinal));
        Assert.Contains(warnings, e => e.Message.Contains("\"not a multiaddr\"", StringComparison.Ordinal));
        Assert.All(warnings, e => Assert.Contains("_dnsaddr.bad.lab", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ManyRecords_OnlyTheFirstOfAnAnswerAndUpToTheAddressCapAreKept()
    {
        FakeTxtLookup lookup = new(new Dictionary<string, string[]>
        {
            ["_dnsaddr.wide.lab"] = [.. Enumerable.Range(1, 100).Select(n => $"dnsaddr=/ip4/10.203.4.{n}/tcp/4001")],
            ["_dnsaddr.two.lab"] = ["dnsaddr=/dnsaddr/wide.lab", "dnsaddr=/dnsaddr/other.lab"],
            ["_dnsaddr.other.lab"] = [.. Enumerable.Range(1, 10).Select(n => $"dnsaddr=/ip4/10.203.5.{n}/tcp/4001")],
        });

        IReadOnlyList<Multiaddr> perAnswer = await new DnsAddrResolver(lookup).ResolveAsync(M("/dnsaddr/wide.lab"), Ct);
        Assert.Equal(32, perAnswer.Count);
        Assert.Equal(M("/ip4/10.203.4.32/tcp/4001"), perAnswer[^1]);

        IReadOnlyList<Multiaddr> capped = await new DnsAddrResolver(lookup, new DnsAddrOptions { MaxAddresses = 36 })
            .ResolveAsync(M("/dnsaddr/two.lab"), Ct);
        Assert.Equal(36, capped.Count);
        Assert.Equal(M("/ip4/10.203.5.4/tcp/4001"), capped[^1]);
    }

    [Fact]
    public async Task FailedLookup_OfTheOnlyName_Throws_OfOneSite_KeepsTheOthers()
    {
        FakeTxtLookup lookup = TwoLevels();
        lookup.Failing.Add("_dnsaddr.site1.bootstrap.lab");
        DnsAddrResolver resolver = new(lookup);

        IReadOnlyList<Multiaddr> found = await resolver.ResolveAsync(M("/dnsaddr/bootstrap.lab"), Ct);
        Assert.Equal([M($"/ip4/10.203.0.2/tcp/4001/p2p/{B}"), M($"/dns4/site2.bootstrap.lab/tcp/4001/p2p/{B}")], found);

        DnsLookupException e = await Assert.ThrowsAsync<DnsLookupException>(
            () => resolver.ResolveAsync(M($"/dnsaddr/bootstrap.lab/p2p/{A}"), Ct));
        Assert.Contains("_dnsaddr.site1.bootstrap.lab", e.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 10_000)]
    public async Task UnansweredLookup_EndsAtTheResolutionTimeout()
    {
        FakeTxtLookup lookup = TwoLevels();
        lookup.Hanging.Add("_dnsaddr.bootstrap.lab");
        DnsAddrResolver resolver = new(lookup, new DnsAddrOptions { Timeout = TimeSpan.FromMilliseconds(200) });

        DnsLookupException e = await Assert.ThrowsAsync<DnsLookupException>(() => resolver.ResolveAsync(M("/dnsaddr/bootstrap.lab"), Ct));
        Assert.Contains("not resolved within 0.2 s", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddressesThatAreNotDnsaddr_AreThemselvesOrNothing()
    {
        FakeTxtLookup lookup = TwoLevels();
        DnsAddrResolver resolver = new(lookup);

        Assert.Equal([M($"/ip4/10.203.0.1/tcp/4001/p2p/{A}")], await resolver.ResolveAsync(M($"/ip4/10.203.0.1/tcp/4001/p2p/{A}"), Ct));
        Assert.Equal([M("/dns6/x.lab/tcp/1")], await resolver.ResolveAsync(M("/dns6/x.lab/tcp/1"), Ct));
        Assert.Empty(await resolver.ResolveAsync(M("/ip4/10.203.0.1/udp/4001/quic-v1"), Ct));
        Assert.Empty(await resolver.ResolveAsync(M("/ip4/10.203.0.1/tcp/4001/ws"), Ct));
        Assert.Empty(lookup.Questions);
    }

    [Theory]
    [InlineData("10.0.0.53", "10.0.0.53:53")]
    [InlineData(" 127.0.0.1:5353 ", "127.0.0.1:5353")]
    [InlineData("::1", "[::1]:53")]
    [InlineData("[::1]:5353", "[::1]:5353")]
    [InlineData("fd00::53", "[fd00::53]:53")]
    public void DnsServerAddress_ReadsAnAddressWithAnOptionalPort(string text, string expected) =>
        Assert.Equal(expected, DnsServerAddress.Parse(text).ToString());

    [Theory]
    [InlineData("dns.example")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("127.0.0.1:")]
    [InlineData("")]
    public void DnsServerAddress_RefusesNamesAndBadPorts(string text) =>
        Assert.Throws<FormatException>(() => DnsServerAddress.Parse(text));
}
