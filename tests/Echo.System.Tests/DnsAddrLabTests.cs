using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Echo.Net.Identity;
using Echo.TestKit.Lab;

namespace Echo.SystemTests;

/// <summary>
/// <c>--bootstrap /dnsaddr/…</c> in the NAT lab: Echo behind NAT A asks the lab's dnsmasq (through
/// <c>--dns</c>) for two levels of <c>_dnsaddr</c> TXT records and dials the four js public nodes
/// they name; a record for a peer id other than the one its name was asked for, and a
/// <c>/quic-v1</c> record, are dropped before anything is dialed. A name with no records is
/// reported and retried while the node runs on.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class DnsAddrLabTests
{
    private static readonly TimeSpan ConnectWithin = TimeSpan.FromSeconds(5);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Report(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    /// <summary>
    /// The records (js nodes 1 to 4 as j1…j4, two ids no node has as x and q):
    /// <code>
    /// _dnsaddr.bootstrap.lab        dnsaddr=/dnsaddr/site1.bootstrap.lab
    ///                               dnsaddr=/dnsaddr/site2.bootstrap.lab/p2p/j4
    /// _dnsaddr.site1.bootstrap.lab  dnsaddr=/ip4/j1/tcp/4001/p2p/j1   (j2, j3 alike)
    ///                               dnsaddr=/ip4/j2/udp/4001/quic-v1/p2p/q    a transport Echo does not speak
    /// _dnsaddr.site2.bootstrap.lab  dnsaddr=/ip4/j3/tcp/4001/p2p/x            not j4, whom site2 was asked for
    ///                               dnsaddr=/ip4/j4/tcp/4001/p2p/j4
    /// </code>
    /// Site1 is named bare, so its records name their peers; site2 is named for j4 (as each site of
    /// bootstrap.libp2p.io is named for its peer), so only records ending in <c>/p2p/j4</c> count
    /// there. Kept, x and q would be bootstrap peers of their own (stats would count 6) and x would
    /// be dialed at j3's address: j3 counts the connection attempts reaching it from router A.
    /// </summary>
    [Fact(Timeout = 90_000)]
    public async Task Bootstrap_DnsaddrTwoLevelsThroughTheLabResolver_ConnectsToTheFourJsNodesSkippingWrongIdAndQuic()
    {
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions(), Ct);
        string logs = Directory.CreateTempSubdirectory("echo-dnsaddr-lab-").FullName;
        string logFile = Path.Combine(logs, "alice.log");
        try
        {
            IReadOnlyList<LabJsNode> js = lab.JsNodes;
            Assert.Equal(4, js.Count);
            string strangerId = NewPeerId(), quicId = NewPeerId();
            LabDns dns = await lab.StartDnsAsync(new Dictionary<string, IReadOnlyList<string>>
            {
                ["_dnsaddr.bootstrap.lab"] =
                [
                    "dnsaddr=/dnsaddr/site1.bootstrap.lab",
                    $"dnsaddr=/dnsaddr/site2.bootstrap.lab/p2p/{js[3].PeerId}",
                ],
                ["_dnsaddr.site1.bootstrap.lab"] =
                [
                    $"dnsaddr={js[0].Address}",
                    $"dnsaddr=/ip4/{js[1].Host.Address}/udp/4001/quic-v1/p2p/{quicId}",
                    $"dnsaddr={js[1].Address}",
                    $"dnsaddr={js[2].Address}",
                ],
                ["_dnsaddr.site2.bootstrap.lab"] =
                [
                    $"dnsaddr=/ip4/{js[2].Host.Address}/tcp/{LabJsNode.Port}/p2p/{strangerId}",
                    $"dnsaddr={js[3].Address}",
                ],
            }, Ct);
            // Every TCP connection attempt and every datagram from router A (alice's only way out)
            // that reaches a js node's host is counted there.
            foreach (LabJsNode node in js)
            {
                await NatLab.ExecAsync(node.Host.Namespace, ["iptables", "-A", "INPUT", "-s", lab.RouterA.WanAddress, "-p", "tcp", "--syn",
                    "-m", "comment", "--comment", "from-a-tcp"], Ct);
                await NatLab.ExecAsync(node.Host.Namespace, ["iptables", "-A", "INPUT", "-s", lab.RouterA.WanAddress, "-p", "udp",
                    "-m", "comment", "--comment", "from-a-udp"], Ct);
            }

            EchoChatProcess alice = await lab.StartEchoAsync(lab.HomeA, "alice",
                ["--bootstrap", "/dnsaddr/bootstrap.lab", "--dns", $"{NatLab.DnsAddress}:53", "--log-file", logFile], Ct);
            Stopwatch sinceReady = Stopwatch.StartNew();

            // From the js side: which of the four hold a connection from alice, polled until three do
            // (then briefly for the fourth), for at most 5 s after alice was ready.
            HashSet<string> reached = [];
            using (PeriodicTimer poll = new(TimeSpan.FromMilliseconds(100)))
            {
                while (reached.Count < js.Count && sinceReady.Elapsed < ConnectWithin)
                {
                    foreach (LabJsNode node in js.Where(n => !reached.Contains(n.PeerId)))
                    {
                        if ((await node.ConnectionsAsync(Ct)).Any(c => c.PeerId == alice.PeerId))
                            reached.Add(node.PeerId);
                    }
                    if (reached.Count < js.Count)
                        await poll.WaitForNextTickAsync(Ct);
                }
            }
            TimeSpan elapsed = sinceReady.Elapsed;
            Report($"{reached.Count} of {js.Count} js nodes connected to alice {elapsed.TotalMilliseconds:0} ms after her ready event");
            Assert.True(reached.Count >= 3,
                $"only {reached.Count} of 4 js nodes connected to alice within {ConnectWithin.TotalSeconds:0} s; dnsmasq:\n{dns.Log}\nalice:\n{alice.StandardError}");

            // Alice's side counts a connection once its own upgrade is done, which may come a moment
            // after the js node's: polled within the same 5 s.
            JsonElement stats;
            using (PeriodicTimer poll = new(TimeSpan.FromMilliseconds(100)))
            {
                while (true)
                {
                    await alice.SendLineAsync("/stats");
                    stats = await alice.NextAsync(e => e.GetProperty("type").GetString() == "stats", TimeSpan.FromSeconds(10), Ct);
                    if (stats.GetProperty("bootstrapConnected").GetInt32() >= 3)
                        break;
                    Assert.True(sinceReady.Elapsed < ConnectWithin,
                        $"alice counts fewer than 3 bootstrap peers {ConnectWithin.TotalSeconds:0} s after her ready event: {stats.GetRawText()}");
                    await poll.WaitForNextTickAsync(Ct);
                }
            }
            Report($"alice counts {stats.GetProperty("bootstrapConnected").GetInt32()} bootstrap peers connected after {sinceReady.Elapsed.TotalMilliseconds:0} ms");
            // The four js nodes are the bootstrap peers, and only they: neither x nor q became one.
            Assert.Equal(4, stats.GetProperty("bootstrapPeers").GetInt32());

            // Both levels were asked, through router A (the queries come from its WAN address).
            string log = dns.Log;
            foreach (string name in (string[])["_dnsaddr.bootstrap.lab", "_dnsaddr.site1.bootstrap.lab", "_dnsaddr.site2.bootstrap.lab"])
                Assert.Contains($"query[TXT] {name} from {lab.RouterA.WanAddress}", log, StringComparison.Ordinal);

            // j3's address was dialed once, for j3 (the handshake of a dial for x would fail after the
            // connection attempt, which j3 would count); no datagram went to any js node (no QUIC).
            if (reached.Contains(js[2].PeerId))
                Assert.Equal(1, await CountAsync(js[2], "tcp"));
            else
                Assert.True(await CountAsync(js[2], "tcp") <= 1);
            foreach (LabJsNode node in js)
                Assert.Equal(0, await CountAsync(node, "udp"));
        }
        catch
        {
            Report("alice's log:\n" + await File.ReadAllTextAsync(logFile, CancellationToken.None));
            throw;
        }
        finally
        {
            await lab.DisposeAsync();
            Directory.Delete(logs, recursive: true);
        }
    }

    /// <summary>
    /// A name the resolver has no records for, and one whose records name no peer Echo can dial:
    /// the node says so in its log (the name and why), counts no bootstrap peer, asks again with the
    /// back-off and keeps answering commands.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task Bootstrap_DnsaddrNameWithoutUsableRecords_IsReportedAndRetriedWhileTheNodeRuns()
    {
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 0 }, Ct);
        string logs = Directory.CreateTempSubdirectory("echo-dnsaddr-lab-").FullName;
        try
        {
            // nothing.lab has no record (dnsmasq refuses the name); empty.lab answers, but with
            // records that name no peer Echo can dial.
            LabDns dns = await lab.StartDnsAsync(new Dictionary<string, IReadOnlyList<string>>
            {
                ["_dnsaddr.empty.lab"] = ["v=spf1 -all", $"dnsaddr=/ip4/10.200.0.1/udp/4001/quic-v1/p2p/{NewPeerId()}"],
            }, Ct);
            string logFile = Path.Combine(logs, "alice.log");
            EchoChatProcess alice = await lab.StartEchoAsync(lab.HomeA, "alice",
                ["--bootstrap", "/dnsaddr/nothing.lab", "--bootstrap", "/dnsaddr/empty.lab", "--dns", dns.Endpoint, "--log-file", logFile], Ct);

            string refused = await LogLineAsync(logFile, "Bootstrap name /dnsaddr/nothing.lab not resolved: ", TimeSpan.FromSeconds(15));
            string empty = await LogLineAsync(logFile, "Bootstrap name /dnsaddr/empty.lab not resolved: ", TimeSpan.FromSeconds(15));
            Report(refused);
            Report(empty);
            Assert.EndsWith("not resolved: /dnsaddr/nothing.lab: TXT _dnsaddr.nothing.lab: Query Refused", refused, StringComparison.Ordinal);
            Assert.EndsWith("not resolved: its records name no peer Echo can dial", empty, StringComparison.Ordinal);

            // Both asked again (the back-off starts at 1 s), and the node runs on.
            using (CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct))
            using (PeriodicTimer poll = new(TimeSpan.FromMilliseconds(100)))
            {
                limit.CancelAfter(TimeSpan.FromSeconds(15));
                while (QueryCount(dns.Log, "_dnsaddr.nothing.lab") < 2 || QueryCount(dns.Log, "_dnsaddr.empty.lab") < 2)
                    await poll.WaitForNextTickAsync(limit.Token);
            }
            await alice.SendLineAsync("/stats");
            JsonElement stats = await alice.NextAsync(e => e.GetProperty("type").GetString() == "stats", TimeSpan.FromSeconds(10), Ct);
            Assert.Equal(0, stats.GetProperty("bootstrapPeers").GetInt32());
            Assert.Equal(0, stats.GetProperty("bootstrapConnected").GetInt32());
            Assert.True(Directory.Exists($"/proc/{alice.ProcessId}"), "alice exited");
        }
        finally
        {
            await lab.DisposeAsync();
            Directory.Delete(logs, recursive: true);
        }
    }

    private static string NewPeerId()
    {
        using KeyPair key = KeyPair.Generate();
        return key.PeerId.ToString();
    }

    /// <summary>Packets of <paramref name="protocol"/> from router A counted by the rule on <paramref name="node"/>'s host.</summary>
    private static async Task<long> CountAsync(LabJsNode node, string protocol)
    {
        string table = await NatLab.ExecAsync(node.Host.Namespace, ["iptables", "-n", "-v", "-x", "-L", "INPUT"], Ct);
        // "       3      180            6    --  *      *       10.200.0.11   0.0.0.0/0   /* from-a-tcp */ tcp flags:0x17/0x02"
        string row = table.Split('\n').FirstOrDefault(r => r.Contains($"/* from-a-{protocol} */", StringComparison.Ordinal))
                     ?? throw new InvalidOperationException($"no {protocol} counter on {node.Host.Namespace}:\n{table}");
        return long.Parse(row.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture);
    }

    private static int QueryCount(string log, string name) =>
        Regex.Count(log, $@"query\[TXT\] {Regex.Escape(name)} from", RegexOptions.CultureInvariant);

    private static async Task<string> LogLineAsync(string file, string text, TimeSpan timeout)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(timeout);
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(100));
        try
        {
            while (true)
            {
                if (File.Exists(file))
                {
                    await using FileStream stream = new(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                    using StreamReader reader = new(stream);
                    string content = await reader.ReadToEndAsync(limit.Token);
                    if (content.Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal)) is { } line)
                        return line;
                }
                await poll.WaitForNextTickAsync(limit.Token);
            }
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            string content = File.Exists(file) ? await File.ReadAllTextAsync(file, CancellationToken.None) : "(no log file)";
            throw new TimeoutException($"no log line with \"{text}\" within {timeout}:\n{content}");
        }
    }
}
