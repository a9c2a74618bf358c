using System.Globalization;
using System.Text.Json;
using Echo.TestKit.Lab;

namespace Echo.SystemTests;

/// <summary>
/// The DHT modes of real echo-chat processes in the NAT lab, seen from the js kad-dht servers: a
/// public Echo node started with <c>--dht-server</c> enters their routing tables (every one of them:
/// KadJsInteropTests, in process); alice behind router
/// A (a client: AutoNAT does not say public, and she never announces kad in identify) asks every js
/// server and enters none. Provider records both ways and serving js lookups: KadJsInteropTests.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class DhtLabTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 120_000)]
    public async Task Js_routing_tables_hold_an_echo_dht_server_and_never_a_natted_echo_client()
    {
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 3, FirstJsNodeIsRelay = false }, Ct);
        try
        {
            string[] common = ["--public-range", NatLab.InternetSubnet, "--bootstrap", lab.JsNodes[0].Address];
            LabHost publicHost = await lab.AddPublicHostAsync(Ct);
            EchoChatProcess server = await lab.StartEchoAsync(publicHost, "pub", [.. common, "--dht-server"], Ct);
            EchoChatProcess alice = await lab.StartEchoAsync(lab.HomeA, "alice", common, Ct);

            // The server's bootstrap peer identifies it as a kad server and, once a libp2p ping answered
            // (js checks every new contact so, within an adaptive 2 s), takes it in; its refresh reaches the
            // other js nodes the same way, though a ping that is slow on a loaded machine may keep one out.
            await LabWait.UntilAsync(async () => (await TablesAsync(lab)).Any(t => t.Contains(server.PeerId)), "a js table holds the Echo server",
                TimeSpan.FromSeconds(45), Ct);

            // Alice's refresh reaches every js node too, and each identifies her: she never announces
            // kad (js notes in its peer store the protocols of streams she opens, but its routing table
            // follows identify).
            foreach (LabJsNode node in lab.JsNodes)
            {
                JsonElement identified = await node.NextEventAsync(
                    e => e.GetProperty("type").GetString() == "identify" && e.GetProperty("peerId").GetString() == alice.PeerId,
                    TimeSpan.FromSeconds(45), Ct);
                Assert.DoesNotContain("/ipfs/kad/1.0.0", identified.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()));
            }
            IReadOnlyList<string>[] tables = await TablesAsync(lab);
            Assert.All(tables, t => Assert.DoesNotContain(alice.PeerId, t));
            Assert.Contains(tables, t => t.Contains(server.PeerId));
        }
        finally
        {
            await lab.DisposeAsync();
        }
    }

    private static async Task<IReadOnlyList<string>[]> TablesAsync(NatLab lab) =>
        await Task.WhenAll(lab.JsNodes.Select(n => n.RoutingTableAsync(Ct)));

}
