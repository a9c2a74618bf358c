using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Kad;
using Echo.Net.Multiformats;
using Echo.TestKit.Lab;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Bench;

/// <summary>
/// Echo's Kademlia client beside js-libp2p's in one lab on 127.0.0.1 (no root needed): 20 js kad-dht
/// servers (lab/js/node.mjs, meshed so each table holds the 19 others), providers placed by the
/// servers for a set of keys, then an Echo client (a <see cref="KadDht"/> in this process) and a js
/// client (node.mjs with <c>DHT_CLIENT=1</c>) that join through the same three servers. Measured: the
/// heap each client grew by joining (and the size of Echo's table alone), provide time and requests,
/// and GET_PROVIDERS lookups of the same keys, Echo and js alternating which goes first: time to the
/// end of the lookup and to the first provider, and requests sent per lookup (Echo: its own counter,
/// <see cref="KadDht.RequestsSent"/>; js: node.mjs counts the requests its network layer sends).
/// Both ask for 20 providers, js's default.
/// </summary>
internal static class DhtLabBench
{
    private const int ServerCount = 20;
    private const int BootstrapCount = 3;
    private const int ProvidersWanted = 20;

    public static async Task<int> RunAsync(string[] args)
    {
        bool quick = args.Contains("--quick");
        int lookups = quick ? 20 : 100;
        int keyCount = quick ? 5 : 20;
        int provides = quick ? 5 : 20;
        int at = Array.IndexOf(args, "--lookups");
        if (at >= 0 && (at + 1 >= args.Length || !int.TryParse(args[at + 1], CultureInfo.InvariantCulture, out lookups) || lookups < 1))
        {
            Console.Error.WriteLine("--lookups needs a positive number");
            return 2;
        }
        if (!LabJsNode.Installed)
        {
            Console.WriteLine($"The lab's js packages are not installed in {LabJsNode.Directory} (scripts/test-setup.sh installs them).");
            return 1;
        }
        using CancellationTokenSource limit = new(TimeSpan.FromMinutes(30));
        CancellationToken ct = limit.Token;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# Kademlia DHT lab on 127.0.0.1, run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, load {LoadAverage()}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{ServerCount} js kad-dht servers, {keyCount} keys provided by two servers each, {lookups} lookups per side, {provides} provides per side{(quick ? " (quick)" : "")}"));
        Console.WriteLine();

        List<LabJsNode> owned = [];
        try
        {
            List<LabJsNode> servers = await StartServersAsync(owned, ct);
            Progress("servers started; meshing");
            List<int> serverTables = await MeshAsync(servers, ct);
            Progress("meshed; placing providers");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Servers' routing tables after meshing: {serverTables.Min()} to {serverTables.Max()} peers of {ServerCount - 1} (mean {serverTables.Average():F1})."));
            Console.WriteLine();
            string run = Guid.NewGuid().ToString("N");
            byte[][] keys = [.. Enumerable.Range(0, keyCount).Select(i => Key($"{run}/key/{i}"))];
            for (int i = 0; i < keys.Length; i++)
            {
                await servers[i % ServerCount].CommandAsync("provide", new JsonObject { ["key"] = Hex(keys[i]) }, ct);
                await servers[(i + ServerCount / 2) % ServerCount].CommandAsync("provide", new JsonObject { ["key"] = Hex(keys[i]) }, ct);
            }

            Progress("providers placed; the clients join");
            // The js client: heap before and after joining through the bootstrap servers.
            LabJsNode js = await LabJsNode.StartOnLoopbackAsync(ct, dhtClient: true);
            owned.Add(js);
            long jsHeapBefore = (await js.CommandAsync("heap", null, ct)).GetProperty("heapUsed").GetInt64();
            foreach (LabJsNode server in servers.Take(BootstrapCount))
                await js.CommandAsync("dial", new JsonObject { ["addr"] = server.LoopbackAddress }, ct);
            int jsTable = await UntilTableAsync(async () => (await js.CommandAsync("heap", null, ct)).GetProperty("routingTableSize").GetInt32(), ct);
            long jsHeapAfter = (await js.CommandAsync("heap", null, ct)).GetProperty("heapUsed").GetInt64();

            // The Echo client, the same way.
            using KeyPair key = KeyPair.Generate();
            await using Libp2pHost host = new(key, new HostOptions { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] },
                NullLoggerFactory.Instance);
            await host.StartAsync(ct);
            long echoHeapBefore = GC.GetTotalMemory(forceFullCollection: true);
            await using KadDht dht = new(host, new KadOptions { ForcedMode = KadMode.Client }, NullLoggerFactory.Instance);
            dht.Start();
            foreach (LabJsNode server in servers.Take(BootstrapCount))
                await host.DialAsync(Multiaddr.Parse(server.LoopbackAddress), ct);
            await UntilTableAsync(() => Task.FromResult(dht.RoutingTableSize), ct, BootstrapCount);
            await dht.BootstrapAsync(ct);
            int echoTable = await UntilTableAsync(() => Task.FromResult(dht.RoutingTableSize), ct);
            long echoHeapAfter = GC.GetTotalMemory(forceFullCollection: true);
            long echoTableBytes = TableBytes(host.PeerId, dht.RoutingTablePeers);

            Progress($"joined (js {jsTable}, Echo {echoTable} peers); provides");
            // Provides, alternating, each side its own keys; then each finds the other's record once.
            Side echo = new("Echo"), jsSide = new("js-libp2p");
            byte[][] echoKeys = [.. Enumerable.Range(0, provides).Select(i => Key($"{run}/echo/{i}"))];
            byte[][] jsKeys = [.. Enumerable.Range(0, provides).Select(i => Key($"{run}/js/{i}"))];
            for (int i = 0; i < provides; i++)
            {
                long sentBefore = dht.RequestsSent;
                Stopwatch clock = Stopwatch.StartNew();
                int reached = await dht.ProvideAsync(echoKeys[i], ct);
                echo.ProvideMs.Add(clock.Elapsed.TotalMilliseconds);
                echo.ProvideMessages.Add(dht.RequestsSent - sentBefore);
                echo.ProvideReached.Add(reached);
                JsonElement reply = await js.CommandAsync("provide", new JsonObject { ["key"] = Hex(jsKeys[i]), ["timeoutMs"] = 30_000 }, ct);
                jsSide.ProvideMs.Add(reply.GetProperty("ms").GetDouble());
                jsSide.ProvideMessages.Add(reply.GetProperty("messages").GetInt64());
            }
            bool jsFindsEcho = (await JsLookupAsync(js, echoKeys[0], ct)).Providers.Contains(host.PeerId.ToString());
            bool echoFindsJs = (await EchoLookupAsync(dht, jsKeys[0], ct)).Providers.Contains(js.PeerId);

            Progress("lookups");
            // Warm-up (not counted), then the lookups, alternating which side goes first.
            for (int i = 0; i < 2; i++)
            {
                await EchoLookupAsync(dht, keys[0], ct);
                await JsLookupAsync(js, keys[0], ct);
            }
            for (int i = 0; i < lookups; i++)
            {
                byte[] lookupKey = keys[i % keys.Length];
                if (i % 2 == 0)
                {
                    echo.Add(await EchoLookupAsync(dht, lookupKey, ct));
                    jsSide.Add(await JsLookupAsync(js, lookupKey, ct));
                }
                else
                {
                    jsSide.Add(await JsLookupAsync(js, lookupKey, ct));
                    echo.Add(await EchoLookupAsync(dht, lookupKey, ct));
                }
            }

            Console.WriteLine("## GET_PROVIDERS lookups of the same keys (each provided by two servers), ms");
            Console.WriteLine();
            Console.WriteLine("| client | lookup p50 | p99 | max | first provider p50 | p99 | requests per lookup: mean | p50 | max | providers found: min | mean |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
            echo.PrintLookups();
            jsSide.PrintLookups();
            Console.WriteLine();
            Console.WriteLine("## Provide (a closest-peers lookup, then ADD_PROVIDER to those found), ms");
            Console.WriteLine();
            Console.WriteLine("| client | p50 | p99 | max | requests per provide: mean | max |");
            Console.WriteLine("|---|---|---|---|---|---|");
            echo.PrintProvides();
            jsSide.PrintProvides();
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Echo's provides reached {echo.ProvideReached.Min()}-{echo.ProvideReached.Max()} servers. Cross-check: js finds Echo's record: {Yes(jsFindsEcho)}; Echo finds js's: {Yes(echoFindsJs)}."));
            Console.WriteLine();
            Console.WriteLine("## Routing table");
            Console.WriteLine();
            Console.WriteLine("| client | peers in the table | heap grown by joining (20 connections and the table) | the table alone |");
            Console.WriteLine("|---|---|---|---|");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| Echo | {echoTable} | {Kib(echoHeapAfter - echoHeapBefore)} (managed heap after a full GC) | {Kib(echoTableBytes)} (a copy of the table built alone, managed heap) |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| js-libp2p | {jsTable} | {Kib(jsHeapAfter - jsHeapBefore)} (V8 heapUsed after a full GC) | not measured |"));
            Console.WriteLine();
            double echoP50 = Percentile(echo.LookupMs, 50), jsP50 = Percentile(jsSide.LookupMs, 50);
            double echoMessages = echo.Messages.Average(), jsMessages = jsSide.Messages.Average();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Goal (Echo's lookup p50 at most half of js's, no more requests per lookup): p50 {echoP50:F1} ms against {jsP50:F1} ms ({echoP50 / jsP50:P0}), "
                + $"requests {echoMessages:F1} against {jsMessages:F1}: {(echoP50 <= jsP50 / 2 && echoMessages <= jsMessages ? "met" : "NOT met")}."));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Load average at the end: {LoadAverage()}"));
            return 0;
        }
        finally
        {
            await Task.WhenAll(owned.Select(n => n.DisposeAsync().AsTask()));
        }
    }

    /// <summary>Starts the servers five at a time (node's start is mostly CPU-bound module loading).</summary>
    private static async Task<List<LabJsNode>> StartServersAsync(List<LabJsNode> owned, CancellationToken ct)
    {
        List<LabJsNode> servers = [];
        for (int i = 0; i < ServerCount; i += 5)
        {
            Task<LabJsNode>[] starts = [.. Enumerable.Range(0, Math.Min(5, ServerCount - i))
                .Select(_ => LabJsNode.StartOnLoopbackAsync(ct, allowLoopback: true))];
            try
            {
                await Task.WhenAll(starts);
            }
            finally
            {
                owned.AddRange(starts.Where(s => s.IsCompletedSuccessfully).Select(s => s.Result));
            }
            servers.AddRange(starts.Select(s => s.Result));
        }
        return servers;
    }

    /// <summary>Each server dials all before it; returns the size of each table once all hold the 19 others (or after 30 s).</summary>
    private static async Task<List<int>> MeshAsync(List<LabJsNode> servers, CancellationToken ct)
    {
        // One dial at a time, a failed one tried once more and then left out (the table sizes show it):
        // on a loaded machine a handshake may time out.
        for (int i = 1; i < servers.Count; i++)
        {
            foreach (LabJsNode earlier in servers.Take(i))
            {
                for (int attempt = 0; attempt < 2; attempt++)
                {
                    try
                    {
                        await servers[i].CommandAsync("dial", new JsonObject { ["addr"] = earlier.LoopbackAddress }, ct);
                        break;
                    }
                    catch (InvalidOperationException e)
                    {
                        Progress(e.Message);
                    }
                }
            }
        }
        // One 30 s wait for the smallest table, not one per server.
        int[] sizes = new int[servers.Count];
        await UntilTableAsync(async () =>
        {
            for (int i = 0; i < servers.Count; i++)
                sizes[i] = (await servers[i].RoutingTableAsync(ct)).Count;
            return sizes.Min();
        }, ct, servers.Count - 1);
        return [.. sizes];
    }

    /// <summary>
    /// Polls a table size every 100 ms until it is <paramref name="wanted"/> or 30 s passed; returns the
    /// last size (js pings a new contact before taking it in, with a 2 s timeout: on a loaded machine
    /// some pings fail and the table stays short of full until a later refresh).
    /// </summary>
    private static async Task<int> UntilTableAsync(Func<Task<int>> size, CancellationToken ct, int wanted = ServerCount)
    {
        Stopwatch clock = Stopwatch.StartNew();
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(100));
        int now;
        while ((now = await size()) < wanted && clock.Elapsed < TimeSpan.FromSeconds(30))
            await poll.WaitForNextTickAsync(ct);
        return now;
    }

    private static async Task<Lookup> EchoLookupAsync(KadDht dht, byte[] key, CancellationToken ct)
    {
        long sentBefore = dht.RequestsSent;
        List<string> found = [];
        double? first = null;
        Stopwatch clock = Stopwatch.StartNew();
        await foreach (KadPeer provider in dht.FindProvidersAsync(key, ProvidersWanted, ct))
        {
            first ??= clock.Elapsed.TotalMilliseconds;
            found.Add(provider.Id.ToString());
        }
        return new Lookup(clock.Elapsed.TotalMilliseconds, first, dht.RequestsSent - sentBefore, found);
    }

    private static async Task<Lookup> JsLookupAsync(LabJsNode js, byte[] key, CancellationToken ct)
    {
        JsonElement reply = await js.CommandAsync("findProviders", new JsonObject { ["key"] = Hex(key), ["timeoutMs"] = 30_000 }, ct);
        JsonElement first = reply.GetProperty("firstMs");
        return new Lookup(reply.GetProperty("ms").GetDouble(), first.ValueKind == JsonValueKind.Number ? first.GetDouble() : null,
            reply.GetProperty("sent").GetInt64(), [.. reply.GetProperty("providers").EnumerateArray().Select(p => p.GetProperty("peerId").GetString()!)]);
    }

    /// <summary>The managed bytes a copy of the table takes, built alone from fresh ids and addresses.</summary>
    private static long TableBytes(PeerId self, IReadOnlyList<KadPeer> peers)
    {
        (string Id, string[] Addresses)[] text = [.. peers.Select(p => (p.Id.ToString(), p.Addresses.Select(a => a.ToString()).ToArray()))];
        long before = GC.GetTotalMemory(forceFullCollection: true);
        KadRoutingTable copy = new(self, 20, TimeProvider.System);
        foreach ((string id, string[] addresses) in text)
            copy.AddOrSeen(PeerId.Parse(id), [.. addresses.Select(Multiaddr.Parse)], _ => false);
        long after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(copy);
        return after - before;
    }

    private static void Progress(string what) =>
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[dht-lab {DateTime.UtcNow:HH:mm:ss}] {what}"));

    private static byte[] Key(string name) => KadDht.Sha256Multihash(Encoding.UTF8.GetBytes($"echo-bench/dht-lab/{name}"));

    private static string Hex(byte[] key) => Convert.ToHexStringLower(key);

    private static string Yes(bool value) => value ? "yes" : "NO";

    private static string Kib(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB");

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static double Percentile(IReadOnlyCollection<double> values, double p)
    {
        if (values.Count == 0)
            return double.NaN;
        List<double> sorted = [.. values.Order()];
        return sorted[(int)Math.Clamp(Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private sealed record Lookup(double Ms, double? FirstMs, long Messages, List<string> Providers);

    private sealed class Side(string name)
    {
        public List<double> LookupMs { get; } = [];

        public List<double> FirstMs { get; } = [];

        public List<double> Messages { get; } = [];

        public List<int> Found { get; } = [];

        public List<double> ProvideMs { get; } = [];

        public List<long> ProvideMessages { get; } = [];

        public List<int> ProvideReached { get; } = [];

        public void Add(Lookup lookup)
        {
            LookupMs.Add(lookup.Ms);
            if (lookup.FirstMs is { } first)
                FirstMs.Add(first);
            Messages.Add(lookup.Messages);
            Found.Add(lookup.Providers.Count);
        }

        public void PrintLookups() =>
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {Percentile(LookupMs, 50):F1} | {Percentile(LookupMs, 99):F1} | {LookupMs.Max():F1} | {Percentile(FirstMs, 50):F1} | {Percentile(FirstMs, 99):F1} | "
                + $"{Messages.Average():F1} | {Percentile(Messages, 50):F0} | {Messages.Max():F0} | {Found.Min()} | {Found.Average():F1} |"));

        public void PrintProvides() =>
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {Percentile(ProvideMs, 50):F1} | {Percentile(ProvideMs, 99):F1} | {ProvideMs.Max():F1} | {ProvideMessages.Average():F1} | {ProvideMessages.Max()} |"));
    }
}
