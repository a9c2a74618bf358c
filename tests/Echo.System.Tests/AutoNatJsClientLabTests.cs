using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Echo.TestKit.Lab;

namespace Echo.SystemTests;

/// <summary>
/// js-libp2p's AutoNAT clients (v2 and v1, lab/js/node.mjs <c>autonatCheck</c>) against an Echo
/// AutoNAT server (<c>--autonat-server</c>) in the NAT lab: a js node on the lab's internet is
/// dialed back and confirms its address, also one on another IP than it dials from after paying
/// the dial data in js's 4096-byte chunks; a js node behind router A is told its address could not
/// be dialed. js's client code does the whole exchange; the command only hands it the address to
/// check, since js by itself never asks about a private (10/8) address, and every lab address is one.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class AutoNatJsClientLabTests
{
    private const int Port = 4001;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Report(string what, TimeSpan elapsed) =>
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {elapsed.TotalMilliseconds:0} ms"));

    private static Task<JsonElement> CheckAsync(LabJsNode js, string server, string address, int version) =>
        js.CommandAsync("autonatCheck", new JsonObject { ["peer"] = server, ["addr"] = address, ["version"] = version }, Ct);

    private static bool IsIdentifyOf(JsonElement e, string peer) =>
        e.GetProperty("type").GetString() == "identify" && e.GetProperty("peerId").GetString() == peer;

    [Fact(Timeout = 120_000)]
    public async Task Js_autonat_clients_are_dialed_back_by_an_echo_server_when_reachable_and_told_no_behind_a_nat()
    {
        Stopwatch total = Stopwatch.StartNew();
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 0 }, Ct);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-autonat-js-lab-");
        try
        {
            LabHost serverHost = await lab.AddPublicHostAsync(Ct);
            string log = Path.Combine(logs.FullName, "server.log");
            EchoChatProcess server = await lab.StartEchoAsync(serverHost, "server",
                ["--autonat-server", "--public-range", NatLab.InternetSubnet, "--log-file", log], Ct, Port);
            string serverAddress = server.Addresses.Single(a => a.Contains("/10.200.0.", StringComparison.Ordinal));

            LabHost jsHost = await lab.AddPublicHostAsync(Ct);
            string otherIp = await lab.AddAddressAsync(jsHost, Ct);
            Task<LabJsNode> reachableStart = lab.StartJsNodeAsync(jsHost, [otherIp], Ct);
            Task<LabJsNode> natedStart = lab.StartJsNodeAsync(lab.HomeA, [], Ct);
            LabJsNode reachable = await reachableStart, nated = await natedStart;
            Report("lab, Echo server and two js nodes up", total.Elapsed);

            // The reachable js node dials the server from its first address and learns from
            // identify that it serves both AutoNAT versions.
            await reachable.CommandAsync("dial", new JsonObject { ["addr"] = serverAddress }, Ct);
            JsonElement identified = await reachable.NextEventAsync(e => IsIdentifyOf(e, server.PeerId), TimeSpan.FromSeconds(10), Ct);
            string[] protocols = [.. identified.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()!)];
            Assert.Contains("/libp2p/autonat/2/dial-request", protocols);
            Assert.Contains("/libp2p/autonat/1.0.0", protocols);

            // v2, the address it dials from: dialed back with its nonce, confirmed, no dial data.
            string dialingFrom = $"/ip4/{jsHost.Address}/tcp/{Port}", elsewhere = $"/ip4/{otherIp}/tcp/{Port}";
            JsonElement same = await CheckAsync(reachable, server.PeerId, dialingFrom, 2);
            Report("js v2 check, same IP", TimeSpan.FromMilliseconds(same.GetProperty("ms").GetDouble()));
            Assert.True(same.GetProperty("confirmed").GetBoolean(), same.GetRawText());
            Assert.True(same.GetProperty("nonceReturned").GetBoolean(), same.GetRawText());
            // The dial back came on a new connection from the server's IP, not from its listening port.
            JsonElement back = await reachable.NextEventAsync(e => e.GetProperty("type").GetString() == "connection"
                && e.GetProperty("direction").GetString() == "inbound", TimeSpan.FromSeconds(5), Ct);
            string from = back.GetProperty("remoteAddr").GetString()!;
            Assert.StartsWith($"/ip4/{serverHost.Address}/tcp/", from);
            Assert.NotEqual(Port, int.Parse(from.Split('/')[4], CultureInfo.InvariantCulture));
            Assert.NotEqual(server.PeerId, back.GetProperty("peerId").GetString());

            // v2, the address on the other IP: js pays the dial data the server asks for, then it is
            // dialed back and confirmed too.
            JsonElement other = await CheckAsync(reachable, server.PeerId, elsewhere, 2);
            Report("js v2 check, other IP (dial data)", TimeSpan.FromMilliseconds(other.GetProperty("ms").GetDouble()));
            Assert.True(other.GetProperty("confirmed").GetBoolean(), other.GetRawText());
            Assert.True(other.GetProperty("nonceReturned").GetBoolean(), other.GetRawText());
            // The server's log is written in the background: wait for the line.
            List<AutoNatLabTests.DialData> payments = [];
            await TestHosts.WaitUntilAsync(() => (payments = AutoNatLabTests.ReadDialData(log)).Count > 0,
                "the server's dial-data log line", TimeSpan.FromSeconds(10));
            AutoNatLabTests.DialData paid = Assert.Single(payments);
            Assert.Equal(reachable.PeerId, paid.Peer);
            Assert.Equal(elsewhere, paid.Address);
            Assert.InRange(paid.Asked, 30_000, 100_000);
            Assert.InRange(paid.Received, paid.Asked, paid.Asked + 4095);
            Assert.InRange(paid.Largest, 1, 4096);

            // v1, the address it dials from: OK.
            JsonElement v1 = await CheckAsync(reachable, server.PeerId, dialingFrom, 1);
            Report("js v1 check, same IP", TimeSpan.FromMilliseconds(v1.GetProperty("ms").GetDouble()));
            Assert.True(v1.GetProperty("confirmed").GetBoolean(), v1.GetRawText());

            // Behind router A: the server observed the router's WAN address with the port the NAT
            // picked (js cannot dial from its listen port); checking it fails both ways, since the
            // router drops the dial backs' SYNs: E_DIAL_ERROR, counted as one failure by js.
            await nated.CommandAsync("dial", new JsonObject { ["addr"] = serverAddress }, Ct);
            JsonElement natIdentified = await nated.NextEventAsync(e => IsIdentifyOf(e, server.PeerId), TimeSpan.FromSeconds(10), Ct);
            string observed = natIdentified.GetProperty("observedAddr").GetString()!;
            Assert.StartsWith($"/ip4/{lab.RouterA.WanAddress}/tcp/", observed);
            Stopwatch natClock = Stopwatch.StartNew();
            JsonElement[] denied = await Task.WhenAll(CheckAsync(nated, server.PeerId, observed, 2), CheckAsync(nated, server.PeerId, observed, 1));
            Report("js v2 and v1 checks behind the NAT (at once)", natClock.Elapsed);
            Assert.All(denied, d =>
            {
                Assert.False(d.GetProperty("confirmed").GetBoolean(), d.GetRawText());
                Assert.Equal(1, d.GetProperty("failure").GetInt32());
                Assert.Equal(0, d.GetProperty("success").GetInt32());
            });
            Assert.False(denied[0].GetProperty("nonceReturned").GetBoolean());
            Assert.Single(AutoNatLabTests.ReadDialData(log));
        }
        finally
        {
            await lab.DisposeAsync();
            logs.Delete(recursive: true);
        }
        Report("whole scenario", total.Elapsed);
    }
}
