using System.Globalization;
using System.Text.Json;
using Echo.TestKit.Lab;

namespace Echo.SystemTests;

/// <summary>
/// The DHT mode driven by AutoNAT in the NAT lab, with no <c>--dht-server</c>: four Echo AutoNAT
/// servers and a js kad-dht server are the bootstrap peers; an Echo node on the lab's internet is
/// judged public, turns DHT server (identify push) and enters the js server's routing table; alice
/// behind router A is judged private, stays a client, never announces kad and never enters it.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class DhtModeLabTests
{
    private const int Port = 4001;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static bool IsVerdict(JsonElement e, string status) =>
        e.GetProperty("type").GetString() == "reachability" && e.GetProperty("status").GetString() == status;

    /// <summary>The DHT mode <paramref name="node"/> reports to <c>/dht</c>.</summary>
    private static async Task<string> ModeAsync(EchoChatProcess node)
    {
        await node.SendLineAsync("/dht");
        JsonElement dht = await node.NextAsync(
            e => e.GetProperty("type").GetString() == "dht" && e.TryGetProperty("requested", out JsonElement r) && r.GetBoolean(),
            TimeSpan.FromSeconds(10), Ct);
        return dht.GetProperty("mode").GetString()!;
    }

    [Fact(Timeout = 240_000)]
    public async Task An_echo_node_autonat_finds_public_becomes_a_dht_server_in_a_js_table_and_a_natted_one_stays_a_client()
    {
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 1, FirstJsNodeIsRelay = false }, Ct);
        try
        {
            LabJsNode js = lab.JsNodes[0];
            LabHost[] serverHosts = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => lab.AddPublicHostAsync(Ct)));
            EchoChatProcess[] servers = await Task.WhenAll(serverHosts.Select((h, i) =>
                lab.StartEchoAsync(h, $"autonat{i}", ["--autonat-server", "--public-range", NatLab.InternetSubnet], Ct, Port)));
            string[] bootstrap = [.. servers.Select(s => s.Addresses.Single(a => a.Contains("/10.200.0.", StringComparison.Ordinal)))
                .Append(js.Address).SelectMany(a => new[] { "--bootstrap", a })];

            LabHost publicHost = await lab.AddPublicHostAsync(Ct);
            Task<EchoChatProcess> publicStart = lab.StartEchoAsync(publicHost, "pub", ["--public-range", NatLab.InternetSubnet, .. bootstrap], Ct, Port);
            Task<EchoChatProcess> aliceStart = lab.StartEchoAsync(lab.HomeA, "alice",
                ["--public-range", NatLab.InternetSubnet, "--observer-threshold", "4", .. bootstrap], Ct, Port);
            EchoChatProcess node = await publicStart, alice = await aliceStart;

            // The public node: judged public by the AutoNAT servers, it turns server by itself and the js
            // server, told by identify push, takes it into its table.
            await node.NextAsync(e => IsVerdict(e, "public"), TimeSpan.FromSeconds(90), Ct);
            Assert.Equal("server", await ModeAsync(node));
            await LabWait.UntilAsync(async () => (await js.RoutingTableAsync(Ct)).Contains(node.PeerId), "the js table holds the public Echo node",
                TimeSpan.FromSeconds(45), Ct);

            // Alice: judged private, still a client; js identified her without kad and its table never held her.
            await alice.NextAsync(e => IsVerdict(e, "private"), TimeSpan.FromSeconds(90), Ct);
            Assert.Equal("client", await ModeAsync(alice));
            JsonElement identified = await js.NextEventAsync(
                e => e.GetProperty("type").GetString() == "identify" && e.GetProperty("peerId").GetString() == alice.PeerId,
                TimeSpan.FromSeconds(30), Ct);
            Assert.DoesNotContain("/ipfs/kad/1.0.0", identified.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()));
            IReadOnlyList<string> table = await js.RoutingTableAsync(Ct);
            Assert.DoesNotContain(alice.PeerId, table);
            Assert.Contains(node.PeerId, table);
        }
        finally
        {
            await lab.DisposeAsync();
        }
    }

}
