using System.Text.Json;
using System.Text.Json.Nodes;
using Echo.Net.Host;
using Echo.Net.Kad;
using Echo.TestKit.Lab;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.SystemTests;

/// <summary>
/// Echo's DHT against the lab's js-libp2p kad-dht servers (lab/js/node.mjs), all on 127.0.0.1:
/// provider records meet both ways (js's CIDv1-raw and CIDv0 of our sha2-256 multihash), js routing
/// tables hold an Echo server and never an Echo client, and the Echo server answers js's FIND_NODE and
/// GET_PROVIDERS. The same roles in the NAT lab, with echo-chat processes: DhtLabTests.
/// </summary>
public sealed class KadJsInteropTests : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private readonly List<IAsyncDisposable> _owned = [];

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
    }

    private static void RequireJs()
    {
        if (LabJsNode.Installed)
            return;
        string missing = $"the lab's js packages are not installed in {LabJsNode.Directory} (scripts/test-setup.sh installs them)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail(missing);
        Assert.Skip(missing);
    }

    /// <summary>Three js DHT servers, the second and third connected to the first.</summary>
    private async Task<LabJsNode[]> StartJsAsync(int count = 3)
    {
        RequireJs();
        LabJsNode[] nodes = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => LabJsNode.StartOnLoopbackAsync(Ct)));
        _owned.AddRange(nodes);
        foreach (LabJsNode node in nodes.Skip(1))
            await node.CommandAsync("dial", new JsonObject { ["addr"] = nodes[0].LoopbackAddress }, Ct);
        return nodes;
    }

    private async Task<(Libp2pHost Host, KadDht Dht)> StartEchoAsync(KadMode mode)
    {
        Libp2pHost host = await TestHosts.StartAsync();
        KadDht dht = new(host, new KadOptions { ForcedMode = mode }, NullLoggerFactory.Instance);
        dht.Start();
        _owned.Add(host);
        _owned.Add(dht);
        return (host, dht);
    }

    private static async Task ConnectAsync(Libp2pHost host, LabJsNode node)
    {
        await host.DialAsync(Echo.Net.Multiformats.Multiaddr.Parse(node.LoopbackAddress), Ct);
        Echo.Net.Identity.PeerId id = Echo.Net.Identity.PeerId.Parse(node.PeerId);
        await TestHosts.Identified(host, id).WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }

    private static string Hex(byte[] key) => Convert.ToHexStringLower(key);

    private static byte[] NewKey(string what) => KadDht.Sha256Multihash(System.Text.Encoding.UTF8.GetBytes($"echo-chat/room/v1/{what}-{Guid.NewGuid():N}"));

    private static async Task<List<(string PeerId, string[] Addrs)>> JsFindProvidersAsync(LabJsNode node, byte[] key, int cidVersion)
    {
        JsonElement reply = await node.CommandAsync("findProviders",
            new JsonObject { ["key"] = Hex(key), ["cidVersion"] = cidVersion, ["timeoutMs"] = 20_000 }, Ct);
        return [.. reply.GetProperty("providers").EnumerateArray()
            .Select(p => (p.GetProperty("peerId").GetString()!, p.GetProperty("addrs").EnumerateArray().Select(a => a.GetString()!).ToArray()))];
    }

    [Fact(Timeout = 90_000)]
    public async Task Js_finds_our_provider_record_and_we_find_a_js_providers()
    {
        LabJsNode[] js = await StartJsAsync();
        (Libp2pHost alice, KadDht dht) = await StartEchoAsync(KadMode.Client);
        await ConnectAsync(alice, js[0]);
        await dht.BootstrapAsync(Ct);
        Assert.Equal(3, dht.RoutingTableSize);

        // Ours, found by js as a CIDv1 (raw) and as a CIDv0: the multihash is what counts.
        byte[] ours = NewKey("ours");
        Assert.Equal(3, await dht.ProvideAsync(ours, Ct));
        foreach (int version in new[] { 1, 0 })
        {
            (string peer, string[] addrs) = Assert.Single(await JsFindProvidersAsync(js[2], ours, version));
            Assert.Equal(alice.PeerId.ToString(), peer);
            Assert.Contains(alice.ListenAddresses[0].ToString(), addrs);
        }

        // Theirs: js[1] provides, our lookup finds it with an address.
        byte[] theirs = NewKey("theirs");
        await js[1].CommandAsync("provide", new JsonObject { ["key"] = Hex(theirs), ["timeoutMs"] = 20_000 }, Ct);
        List<KadPeer> found = [];
        await foreach (KadPeer provider in dht.FindProvidersAsync(theirs, 5, Ct))
            found.Add(provider);
        KadPeer only = Assert.Single(found);
        Assert.Equal(js[1].PeerId, only.Id.ToString());
        Assert.Contains(only.Addresses, a => js[1].LoopbackAddress.StartsWith(a.ToString() + "/", StringComparison.Ordinal));
        KadLookupStats stats = dht.RecentLookups[^1];
        Assert.Equal((KadLookupKind.Providers, 1), (stats.Kind, stats.Found));
        Assert.InRange(stats.MessagesSent, 1, 3);
    }

    [Fact(Timeout = 90_000)]
    public async Task Js_tables_hold_an_echo_server_never_a_client_and_the_server_answers_js_lookups()
    {
        LabJsNode[] js = await StartJsAsync();
        (Libp2pHost client, KadDht clientDht) = await StartEchoAsync(KadMode.Client);
        (Libp2pHost server, KadDht serverDht) = await StartEchoAsync(KadMode.Server);
        await ConnectAsync(client, js[0]);
        await ConnectAsync(server, js[0]);
        await serverDht.BootstrapAsync(Ct);
        await clientDht.BootstrapAsync(Ct);

        // The client asked every js node and was identified by each; none took it into its table.
        await LabWait.UntilAsync(async () => (await RoutingTablesAsync(js)).All(t => t.Contains(server.PeerId.ToString())),
            "every js table holds the Echo server", Wait, Ct);
        foreach (IReadOnlyList<string> table in await RoutingTablesAsync(js))
            Assert.DoesNotContain(client.PeerId.ToString(), table);

        // A js node that knows only the Echo server: FIND_NODE through it finds a js node (js follows
        // only closer peers, so the target is that node's own id, closer than anyone).
        LabJsNode lone = (await StartJsAsync(1))[0];
        await lone.CommandAsync("dial", new JsonObject { ["addr"] = $"{server.ListenAddresses[0]}/p2p/{server.PeerId}" }, Ct);
        await LabWait.UntilAsync(async () => (await lone.RoutingTableAsync(Ct)).Count == 1, "the lone js node took the Echo server into its table",
            Wait, Ct);
        long before = serverDht.RequestsServed;
        JsonElement closest = await lone.CommandAsync("getClosestPeers", new JsonObject { ["peer"] = js[1].PeerId }, Ct);
        string[] ids = [.. closest.GetProperty("peers").EnumerateArray().Select(p => p.GetProperty("peerId").GetString()!)];
        Assert.Contains(js[1].PeerId, ids);
        Assert.True(serverDht.RequestsServed > before, "the Echo server answered FIND_NODE");

        // GET_PROVIDERS: the client's record, stored by the Echo server (and the js servers), found by the lone node.
        byte[] key = NewKey("served");
        Assert.InRange(await clientDht.ProvideAsync(key, Ct), 4, 5);    // the lone js node may be among the closest by now
        // ADD_PROVIDER has no reply: the provide returns once it is written, the server stores it when it reads it.
        await LabWait.UntilAsync(() => Task.FromResult(serverDht.ProviderRecordCount == 1), "the Echo server stored the record", Wait, Ct);
        before = serverDht.RequestsServed;
        (string provider, _) = Assert.Single(await JsFindProvidersAsync(lone, key, 1));
        Assert.Equal(client.PeerId.ToString(), provider);
        Assert.True(serverDht.RequestsServed > before, "the Echo server answered GET_PROVIDERS");
    }


    private static async Task<IReadOnlyList<string>[]> RoutingTablesAsync(LabJsNode[] nodes) =>
        await Task.WhenAll(nodes.Select(n => n.RoutingTableAsync(Ct)));
}
