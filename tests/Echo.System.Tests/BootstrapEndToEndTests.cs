using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Echo.Cli;
using Echo.Net.Bootstrap;
using Echo.Net.Multiformats;

namespace Echo.SystemTests;

/// <summary>
/// Opting in to the public network, with real echo-chat processes: <c>--bootstrap</c> through
/// <c>/dnsaddr</c> and <c>--dns</c> (a DNS server of the test's own on 127.0.0.1), and the proof that
/// a node started without opting in sends nothing to any address but
/// loopback and mDNS's group: it runs in a network namespace of its own with only loopback, under
/// strace, and every connect and datagram it makes is read back. Every address is loopback or
/// inside that namespace; the built-in bootstrap list is never used.
/// </summary>
[global::System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class BootstrapEndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 120_000)]
    public async Task Bootstrap_ThroughDnsaddrAndTheGivenResolver_ConnectsToBothPeers_StatsCountThem()
    {
        await using EchoChatProcess first = await EchoChatProcess.StartAsync("boot1", [], Ct);
        await using EchoChatProcess second = await EchoChatProcess.StartAsync("boot2", [], Ct);
        await using LoopbackDnsServer dns = new(new Dictionary<string, IReadOnlyList<IReadOnlyList<string>>>
        {
            ["_dnsaddr.bootstrap.lab"] =
            [
                [$"dnsaddr=/dnsaddr/site1.bootstrap.lab/p2p/{first.PeerId}"],
                [$"dnsaddr=/dnsaddr/site2.bootstrap.lab/p2p/{second.PeerId}"],
            ],
            ["_dnsaddr.site1.bootstrap.lab"] =
            [
                [$"dnsaddr=/ip4/127.0.0.1/udp/4001/quic-v1/p2p/{first.PeerId}"],
                [$"dnsaddr={second.Address.Replace(second.PeerId, first.PeerId, StringComparison.Ordinal)}"],
                [$"dnsaddr={first.Address}"],
            ],
            ["_dnsaddr.site2.bootstrap.lab"] = [[$"dnsaddr={second.Address}"]],
        });
        string dataDirectory = Directory.CreateTempSubdirectory("echo-bootstrap-").FullName;
        try
        {
            await using (EchoChatProcess alice = await EchoChatProcess.StartAsync("alice",
                [
                    "--bootstrap", $"/dnsaddr/bootstrap.lab/p2p/{first.PeerId}",
                    "--bootstrap", $"/dnsaddr/bootstrap.lab/p2p/{second.PeerId}",
                    "--dns", dns.EndPoint.ToString(),
                ], Ct, dataDirectory: dataDirectory))
            {
                HashSet<string> connected = [];
                while (!connected.IsSupersetOf([first.PeerId, second.PeerId]))
                {
                    JsonElement peer = await alice.NextAsync(e => e.GetProperty("type").GetString() == "peer"
                                                                  && e.GetProperty("event").GetString() == "connected", TimeSpan.FromSeconds(20), Ct);
                    connected.Add(peer.GetProperty("peerId").GetString()!);
                }
                await alice.SendLineAsync("/stats");
                JsonElement stats = await alice.NextAsync(e => e.GetProperty("type").GetString() == "stats", TimeSpan.FromSeconds(20), Ct);
                Assert.Equal(2, stats.GetProperty("bootstrapConnected").GetInt32());
                Assert.Equal(2, stats.GetProperty("bootstrapPeers").GetInt32());
            }
            Assert.Contains("_dnsaddr.site1.bootstrap.lab", dns.Questions);
            string cache = await File.ReadAllTextAsync(Path.Combine(dataDirectory, "bootstrap-peers.json"), Ct);
            Assert.Contains(Multiaddr.Parse(first.Address).WithoutPeerId().ToString(), cache, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Stats_WithoutOptingIn_SayNothingOfBootstrap()
    {
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        await alice.SendLineAsync("/stats");
        JsonElement stats = await alice.NextAsync(e => e.GetProperty("type").GetString() == "stats", TimeSpan.FromSeconds(20), Ct);
        Assert.False(stats.TryGetProperty("bootstrapConnected", out _));
    }

    [Theory(Timeout = 60_000)]
    [InlineData("--bootstrap /ip4/127.0.0.1/tcp/4001",
        "--bootstrap /ip4/127.0.0.1/tcp/4001: a bootstrap address must end in /p2p/<peer id> (only a bare /dnsaddr/<name> may leave it to its records)")]
    [InlineData("--bootstrap /ip4/127.0.0.1/udp/1/quic-v1/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ",
        "--bootstrap /ip4/127.0.0.1/udp/1/quic-v1/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ: not an address Echo can dial: use /dnsaddr/<name>, or /ip4, /ip6, /dns, /dns4 or /dns6 with /tcp/<port>")]
    [InlineData("--dns 127.0.0.1", ChatSettings.DnsNeedsBootstrap)]
    [InlineData("--bootstrap /ip4/127.0.0.1/tcp/1/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ --dns resolver.lab",
        "--dns resolver.lab: not an IP address with an optional port, such as 10.0.0.53, 127.0.0.1:5353 or [::1]:5353")]
    public async Task BadBootstrapOrDns_ExitsWith2AndSaysWhy(string arguments, string expected)
    {
        string root = Directory.CreateTempSubdirectory("echo-cli-args-").FullName;
        try
        {
            (int exit, string stdout, string stderr) = await EchoChatProcess.RunWithOutputAsync(
                ["--headless", "--no-mdns", "--data-dir", Path.Combine(root, "data"), .. arguments.Split(' ')], Ct);
            Assert.Equal(2, exit);
            Assert.Equal("echo-chat: " + expected, stderr.Trim());
            Assert.Equal("", stdout);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// The negative half: in a namespace with only loopback, a node started without opting in (mDNS on,
    /// as a user would run it) makes no connect and sends no datagram to any built-in bootstrap
    /// address, asks no DNS server anything, and reaches nothing but loopback and mDNS's group. The
    /// positive half, in the same harness, shows the trace does see a bootstrap dial and a /dnsaddr
    /// query when they are asked for, so the first half can fail.
    /// </summary>
    [Fact(Timeout = 180_000)]
    public async Task WithoutOptingIn_NoBuiltInAddressIsContacted_WithBootstrap_TheGivenPeerIs()
    {
        await NetworkNamespacePair.RequireAsync(Ct);
        if (await NetworkNamespacePair.RunAsync(["strace", "-V"], Ct) is { } missing)
        {
            Assert.SkipWhen(!string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase),
                $"strace is not usable ({missing}); scripts/test-setup.sh installs it");
            Assert.Fail($"strace is not usable: {missing}");
        }
        string netns = $"echo-optin-{Environment.ProcessId % 100000:x}-{Random.Shared.Next(0x10000):x}";
        string traces = Directory.CreateTempSubdirectory("echo-optin-").FullName;
        try
        {
            if (await NetworkNamespacePair.RunAsync(["ip", "netns", "add", netns], Ct) is { } addError)
                Assert.Fail($"cannot create namespace {netns}: {addError}");
            Assert.Null(await NetworkNamespacePair.RunAsync(["ip", "-n", netns, "link", "set", "lo", "up"], Ct));

            // Without opting in.
            string quiet = Path.Combine(traces, "quiet.trace");
            await using (EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct, networkNamespace: netns, mdns: true,
                wrapper: Strace(quiet)))
            {
                await alice.SendLineAsync("/stats");
                JsonElement stats = await alice.NextAsync(e => e.GetProperty("type").GetString() == "stats", TimeSpan.FromSeconds(30), Ct);
                Assert.False(stats.TryGetProperty("bootstrapConnected", out _));
            }
            IReadOnlyList<IPEndPoint> contacted = Destinations(await File.ReadAllTextAsync(quiet, Ct));
            IPAddress[] builtIn = [.. PublicBootstrapPeers.Multiaddrs
                .Select(a => a.TryGetTcpEndPoint(out IPEndPoint? e) ? e!.Address : null).OfType<IPAddress>()];
            Assert.NotEmpty(builtIn);
            Assert.DoesNotContain(contacted, e => builtIn.Contains(e.Address));
            Assert.DoesNotContain(contacted, e => e.Port == 53);
            Assert.All(contacted, e => Assert.True(IPAddress.IsLoopback(e.Address) || IsMdnsGroup(e.Address),
                $"contacted {e} without being told to"));

            // With --bootstrap: a peer in the namespace, and a /dnsaddr name asked of a resolver address
            // there that nothing answers.
            await using EchoChatProcess peer = await EchoChatProcess.StartAsync("boot", [], Ct, networkNamespace: netns);
            int peerPort = Multiaddr.Parse(peer.Address).TryGetTcpEndPoint(out IPEndPoint? peerEndPoint) ? peerEndPoint!.Port : 0;
            const int SilentDnsPort = 5399;
            string told = Path.Combine(traces, "told.trace");
            await using (EchoChatProcess bob = await EchoChatProcess.StartAsync("bob",
                [
                    "--bootstrap", peer.Address, "--bootstrap", $"/dnsaddr/bootstrap.lab/p2p/{peer.PeerId}",
                    "--dns", $"127.0.0.1:{SilentDnsPort}",
                ], Ct, networkNamespace: netns, wrapper: Strace(told)))
            {
                await bob.PeerEventAsync("connected", peer.PeerId, Ct);
                await bob.SendLineAsync("/stats");
                JsonElement stats = await bob.NextAsync(e => e.GetProperty("type").GetString() == "stats", TimeSpan.FromSeconds(30), Ct);
                Assert.Equal(1, stats.GetProperty("bootstrapConnected").GetInt32());
            }
            IReadOnlyList<IPEndPoint> dialed = Destinations(await File.ReadAllTextAsync(told, Ct));
            Assert.Contains(dialed, e => IPAddress.IsLoopback(e.Address) && e.Port == peerPort);
            Assert.Contains(dialed, e => IPAddress.IsLoopback(e.Address) && e.Port == SilentDnsPort);
        }
        finally
        {
            await NetworkNamespacePair.RunAsync(["ip", "netns", "delete", netns], CancellationToken.None);
            Directory.Delete(traces, recursive: true);
        }
    }

    /// <summary>strace of every connect and every datagram with an address, all threads, into <paramref name="file"/>.</summary>
    private static string[] Strace(string file) =>
        ["strace", "-f", "-qq", "-s", "0", "-e", "trace=connect,sendto,sendmsg,sendmmsg", "-e", "signal=none", "-o", file];

    /// <summary>The IPv4 and IPv6 destinations named in a trace (IPv4-mapped IPv6 read as IPv4).</summary>
    private static List<IPEndPoint> Destinations(string trace)
    {
        List<IPEndPoint> found = [];
        foreach (Match m in SocketAddress().Matches(trace))
        {
            IPAddress address = IPAddress.Parse(m.Groups["v4"].Success ? m.Groups["v4"].Value : m.Groups["v6"].Value);
            if (address.IsIPv4MappedToIPv6)
                address = address.MapToIPv4();
            found.Add(new IPEndPoint(address, int.Parse(m.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }
        return found;
    }

    private static bool IsMdnsGroup(IPAddress address) =>
        address.Equals(IPAddress.Parse("224.0.0.251")) || address.Equals(IPAddress.Parse("ff02::fb"));

    // strace prints {sa_family=AF_INET, sin_port=htons(5353), sin_addr=inet_addr("224.0.0.251")} and
    // {sa_family=AF_INET6, sin6_port=htons(53), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), ...}.
    [GeneratedRegex("""sin6?_port=htons\((?<port>\d+)\),[^}]*?(?:inet_addr\("(?<v4>[^"]+)"\)|inet_pton\(AF_INET6, "(?<v6>[^"]+)")""")]
    private static partial Regex SocketAddress();
}
