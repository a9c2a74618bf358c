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
/// than the servers' listening port and never show in its chat. The dial-data guard (an address on
/// another IP than the requester's costs 30-100 kB, sent in chunks of at most 4096 bytes) is proved in
/// process: AutoNatHostTests.AnAddressOnAnotherIpThanObserved_CostsDialData_SentInChunksOfAtMost4096.
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
