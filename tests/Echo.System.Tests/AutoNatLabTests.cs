using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Echo.TestKit.Lab;

namespace Echo.SystemTests;

/// <summary>
/// AutoNAT in the NAT lab, served by public Echo nodes (<c>--autonat-server</c>): alice behind router
/// A is judged private (the router drops new inbound connections to the WAN address and port she was
/// observed at), a public Echo node is judged public, the dial backs it receives come from other ports
/// than the servers' listening port and never show in its chat; and a public node with a second
/// address on another IP than the one it dials from pays the servers dial data for that address only
/// (30-100 kB, in chunks of at most 4096 bytes), and both addresses are confirmed.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed partial class AutoNatLabTests
{
    private const int Port = 4001;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Report(string what, TimeSpan elapsed) =>
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {elapsed.TotalMilliseconds:0} ms"));

    private static bool IsVerdict(JsonElement e, string status) =>
        e.GetProperty("type").GetString() == "reachability" && e.GetProperty("status").GetString() == status;

    private static string[] Addrs(JsonElement e) => [.. e.GetProperty("addrs").EnumerateArray().Select(a => a.GetString()!)];

    [GeneratedRegex(@"AutoNAT dial back with our nonce arrived from /ip4/([0-9.]+)/tcp/([0-9]+)")]
    private static partial Regex DialBackArrived();

    [GeneratedRegex(@"AutoNAT dial data from (\S+) for (\S+): ([0-9]+) bytes of ([0-9]+) asked, in ([0-9]+) chunks of at most ([0-9]+) bytes")]
    private static partial Regex DialDataReceived();

    /// <summary>One dial-data payment a server logged: who paid, for which address, how much in how many chunks.</summary>
    internal sealed record DialData(string Peer, string Address, long Received, int Asked, int Chunks, int Largest);

    /// <summary>The dial-data payments logged in <paramref name="log"/> (an echo-chat <c>--log-file</c>).</summary>
    internal static List<DialData> ReadDialData(string log)
    {
        if (!File.Exists(log))
            return [];
        using FileStream stream = new(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using StreamReader reader = new(stream);
        return [.. DialDataReceived().Matches(reader.ReadToEnd()).Select(m => new DialData(m.Groups[1].Value, m.Groups[2].Value,
            long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture),
            int.Parse(m.Groups[5].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[6].Value, CultureInfo.InvariantCulture)))];
    }

    [Fact(Timeout = 90_000)]
    public async Task A_node_behind_a_nat_is_judged_private_and_a_public_node_public_by_echo_autonat_servers()
    {
        Stopwatch total = Stopwatch.StartNew();
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 0 }, Ct);
        Report("lab built", total.Elapsed);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-autonat-lab-");
        try
        {
            string[] common = ["--autonat-server", "--public-range", NatLab.InternetSubnet];
            LabHost[] serverHosts = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => lab.AddPublicHostAsync(Ct)));
            EchoChatProcess[] servers = await Task.WhenAll(serverHosts.Select((h, i) =>
                lab.StartEchoAsync(h, $"server{i}", common, Ct, Port)));
            string[] serverAddresses = [.. servers.Select(s => s.Addresses.Single(a => a.Contains("/10.200.0.", StringComparison.Ordinal)))];
            string[] connectAll = [.. serverAddresses.SelectMany(a => new[] { "--connect", a })];
            // For alice they are her bootstrap peers: --bootstrap turns the public-network stack, AutoNAT with it, on.
            string[] bootstrapAll = [.. serverAddresses.SelectMany(a => new[] { "--bootstrap", a })];
            Report("four public AutoNAT servers started", total.Elapsed);

            LabHost publicHost = await lab.AddPublicHostAsync(Ct);
            string log = Path.Combine(logs.FullName, "public.log");
            Stopwatch publicClock = Stopwatch.StartNew();
            Task<EchoChatProcess> publicStart = lab.StartEchoAsync(publicHost, "public", [.. common, "--log-file", log, .. connectAll], Ct, Port);
            Stopwatch aliceClock = Stopwatch.StartNew();
            Task<EchoChatProcess> aliceStart = lab.StartEchoAsync(lab.HomeA, "alice",
                ["--public-range", NatLab.InternetSubnet, "--observer-threshold", "4", .. bootstrapAll], Ct, Port);
            EchoChatProcess node = await publicStart, alice = await aliceStart;

            // The public node: its listen address confirmed by more than three servers.
            List<JsonElement> seen = [];
            JsonElement isPublic = await node.NextAsync(e => { seen.Add(e); return IsVerdict(e, "public"); }, TimeSpan.FromSeconds(30), Ct);
            Report("public node: start to a public verdict", publicClock.Elapsed);
            Assert.Contains($"/ip4/{publicHost.Address}/tcp/{Port}", Addrs(isPublic));

            // Alice: trusted her WAN address and port once four servers observed it (her dials came
            // from her listen port through the NAT), then more than three servers could not dial it.
            JsonElement isPrivate = await alice.NextAsync(e => IsVerdict(e, "private"), TimeSpan.FromSeconds(45), Ct);
            Report("NATed node: start to a private verdict", aliceClock.Elapsed);
            Assert.Equal([$"/ip4/{lab.RouterA.WanAddress}/tcp/{Port}"], Addrs(isPrivate));

            // Each confirmation came with a dial back carrying our nonce: from a server's IP, never from
            // its listening port (a fresh dialer with an ephemeral port).
            List<(string Ip, int Port)> dialBacks = [];
            await TestHosts.WaitUntilAsync(() =>
            {
                dialBacks = ReadDialBacks(log);
                return dialBacks.Count >= 4;
            }, "four dial backs logged by the public node", TimeSpan.FromSeconds(10));
            Assert.All(dialBacks, d =>
            {
                Assert.Contains(d.Ip, serverHosts.Select(h => h.Address));
                Assert.NotEqual(Port, d.Port);
            });

            // The dial backs (four fresh peer ids) never showed in the public node's chat: only the
            // servers it dialed were shown connected.
            seen.AddRange(node.Drain());
            string[] connected = [.. seen.Where(e => e.GetProperty("type").GetString() == "peer" && e.GetProperty("event").GetString() == "connected")
                .Select(e => e.GetProperty("peerId").GetString()!)];
            Assert.Equal(servers.Select(s => s.PeerId).Order(), connected.Order());
        }
        finally
        {
            Stopwatch teardown = Stopwatch.StartNew();
            await lab.DisposeAsync();
            Report("teardown", teardown.Elapsed);
            logs.Delete(recursive: true);
        }
        Report("whole scenario", total.Elapsed);
    }

    [Fact(Timeout = 90_000)]
    public async Task An_address_on_another_ip_than_the_observed_one_costs_dial_data_sent_in_chunks_of_at_most_4096()
    {
        Stopwatch total = Stopwatch.StartNew();
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 0 }, Ct);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-autonat-lab-");
        try
        {
            string[] common = ["--autonat-server", "--public-range", NatLab.InternetSubnet];
            LabHost[] serverHosts = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => lab.AddPublicHostAsync(Ct)));
            string[] serverLogs = [.. serverHosts.Select((_, i) => Path.Combine(logs.FullName, $"server{i}.log"))];
            EchoChatProcess[] servers = await Task.WhenAll(serverHosts.Select((h, i) =>
                lab.StartEchoAsync(h, $"server{i}", [.. common, "--log-file", serverLogs[i]], Ct, Port)));
            string[] connectAll = [.. servers.SelectMany(s => new[] { "--connect", s.Addresses.Single(a => a.Contains("/10.200.0.", StringComparison.Ordinal)) })];

            // A public host with two addresses; the node listens on both and dials from the first
            // (port reuse binds its dials to its first listen address), so the servers observe that IP.
            LabHost host = await lab.AddPublicHostAsync(Ct);
            string otherIp = await lab.AddAddressAsync(host, Ct);
            string observedIp = $"/ip4/{host.Address}/tcp/{Port}", elsewhere = $"/ip4/{otherIp}/tcp/{Port}";
            EchoChatProcess node = await lab.StartEchoAsync(host, "twoips", [.. common, "--listen", elsewhere, .. connectAll], Ct, Port);
            Assert.Contains(elsewhere, node.Addresses.Select(a => a.Split("/p2p/")[0]));

            // Both addresses confirmed by more than three servers: the one on the other IP too, so the
            // dial data was paid in full and the dial backs followed.
            JsonElement both = await node.NextAsync(e => IsVerdict(e, "public") && Addrs(e).Contains(elsewhere) && Addrs(e).Contains(observedIp),
                TimeSpan.FromSeconds(45), Ct);
            Report("two-address node: start to both addresses public", total.Elapsed);

            // Every server asked for dial data for the address on the other IP, never for the one it
            // observed, and got at least what it asked in chunks of at most 4096 bytes.
            List<List<DialData>> paid = [];
            await TestHosts.WaitUntilAsync(() =>
            {
                paid = [.. serverLogs.Select(ReadDialData)];
                return paid.All(p => p.Count >= 1);
            }, "a dial-data payment logged by each server", TimeSpan.FromSeconds(10));
            Assert.All(paid.SelectMany(p => p), d =>
            {
                Assert.Equal(node.PeerId, d.Peer);
                Assert.Equal(elsewhere, d.Address);
                Assert.InRange(d.Asked, 30_000, 100_000);
                Assert.InRange(d.Received, d.Asked, d.Asked + 4095);
                Assert.InRange(d.Largest, 1, 4096);
                Assert.True(d.Chunks >= (d.Asked + 4095) / 4096, $"{d.Chunks} chunks cannot carry {d.Asked} bytes of at most 4096");
            });
        }
        finally
        {
            await lab.DisposeAsync();
            logs.Delete(recursive: true);
        }
        Report("whole scenario", total.Elapsed);
    }

    private static List<(string Ip, int Port)> ReadDialBacks(string log)
    {
        if (!File.Exists(log))
            return [];
        using FileStream stream = new(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using StreamReader reader = new(stream);
        return [.. DialBackArrived().Matches(reader.ReadToEnd())
            .Select(m => (m.Groups[1].Value, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))];
    }
}
