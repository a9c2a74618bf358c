using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using NSec.Cryptography;

namespace Echo.Bench;

/// <summary>
/// The gossipsub section of the end-to-end run (<c>e2e --only pubsub</c>): every node its own process
/// (C# = <see cref="PubsubPeer"/>, js = the interop peer with GOSSIPSUB=1), default router settings
/// on both sides, StrictSign. Latencies come from the publisher's CLOCK_MONOTONIC carried in each
/// message (<see cref="BenchPayload"/>) read against the receiver's.
/// </summary>
internal static class PubsubBench
{
    private const string Topic = "echo-bench";
    private const int MessageSize = 100;
    private const int WarmUp = 2_000;
    private const int MeshWarmUp = 10;
    private static readonly Dictionary<string, string> s_gossipsub = new() { ["GOSSIPSUB"] = "1" };

    /// <param name="csOnly">Only the C# → C# pair, no networks (<c>--cs-only</c>): a quick A/B of the C# router.</param>
    public static async Task RunAsync(string js, bool quick, bool csOnly, Action<string> line)
    {
        int burst = quick ? 5_000 : 20_000;
        int paced = quick ? 1_000 : 5_000;
        int meshMessages = quick ? 60 : 200;
        double verify = MeasureVerifyRate(TimeSpan.FromSeconds(quick ? 1 : 2));
        line("");
        line("## Gossipsub (one process per node, StrictSign, 100-byte messages)");
        line("");
        line($"Ed25519 verify (NSec), one core: {verify:F0}/s");
        line("");
        line($"| publisher → subscriber | back to back ({burst:N0}) msgs/s | delivered | CPU µs/msg publisher | subscriber | 500/s ({paced:N0}) p50 ms | p99 ms | delivered |");
        line("|---|---|---|---|---|---|---|---|---|");
        Dictionary<string, double> rate = [], p50 = [], p99 = [], subscriberCpu = [];
        (string, string)[] pairs = csOnly ? [("C#", "C#")] : [("C#", "C#"), ("js", "js"), ("C#", "js"), ("js", "C#")];
        foreach ((string publisher, string subscriber) in pairs)
        {
            PeerProcess[] nodes = await StartAsync([publisher, subscriber], js);
            try
            {
                PeerProcess pub = nodes[0], sub = nodes[1];
                await pub.CommandAsync("dial", new JsonObject { ["addr"] = sub.Address });
                await SubscribeAndMeshAsync(nodes, [(0, 1)], TimeSpan.FromSeconds(30));

                // Warm-up: both runtimes compile their hot paths (JIT tiers, V8) before anything is timed.
                await sub.CommandAsync("benchReset");
                await pub.CommandAsync("benchPublish", Publish(WarmUp, 0, 0, 0), TimeSpan.FromMinutes(5));
                await WaitForAsync(sub, WarmUp);
                await Task.Delay(500);

                await sub.CommandAsync("benchReset");
                double pubCpu = Cpu(await pub.CommandAsync("benchCount")), subCpu = Cpu(await sub.CommandAsync("benchCount"));
                JsonObject sent = await pub.CommandAsync("benchPublish", Publish(burst, 0, 0, 0), TimeSpan.FromMinutes(5));
                JsonObject got = await WaitForAsync(sub, burst);
                int count = got["count"]!.GetValue<int>();
                double seconds = (Ns(got["lastNs"]) - Ns(sent["startNs"])) / 1e9;
                double perSecond = count / seconds;
                // CPU per delivered message on each side: what the run cost, whatever else the machine was doing.
                pubCpu = (Cpu(await pub.CommandAsync("benchCount")) - pubCpu) * 1000 / Math.Max(count, 1);
                subCpu = (Cpu(got) - subCpu) * 1000 / Math.Max(count, 1);

                // js's connection monitor closes a connection whose ping times out behind a backlog: dial again if so.
                bool lost = !await InMeshAsync(pub, sub);
                if (lost)
                {
                    await pub.CommandAsync("dial", new JsonObject { ["addr"] = sub.Address });
                    await SubscribeAndMeshAsync(nodes, [(0, 1)], TimeSpan.FromSeconds(30));
                }
                await sub.CommandAsync("benchReset");
                await pub.CommandAsync("benchPublish", Publish(paced, 500, 0, 0), TimeSpan.FromMinutes(5));
                await WaitForAsync(sub, paced);
                JsonObject received = await sub.CommandAsync("benchReceived");
                double[] latency = Latencies(received);
                string key = publisher + subscriber;
                rate[key] = perSecond;
                subscriberCpu[key] = subCpu;
                p50[key] = Percentile(latency, 50);
                p99[key] = Percentile(latency, 99);
                line($"| {publisher} → {subscriber} | {perSecond:F0} | {Ratio(count, burst)}{(lost ? " (connection lost)" : "")} | {pubCpu:F0} | {subCpu:F0} | {p50[key]:F2} | {p99[key]:F2} | {Ratio(latency.Length, paced)} |");
            }
            finally
            {
                await StopAsync(nodes);
            }
        }
        line("");
        double verifyUs = 1e6 / verify;
        if (csOnly)
        {
            line($"C#→C# / one-core verify: {rate["C#C#"] / verify:P0}; a C# subscriber with a core to itself delivers "
                + $"{1e6 / subscriberCpu["C#C#"]:F0}/s = {verifyUs / subscriberCpu["C#C#"]:P0} of the verify rate");
            return;
        }
        line($"C#→C# / js→js delivered msgs/s: {rate["C#C#"] / rate["jsjs"]:F1}x; C#→C# / one-core verify: {rate["C#C#"] / verify:P0}");
        line($"C#→C# / js→js at 500/s: p50 {p50["C#C#"] / p50["jsjs"]:F2}, p99 {p99["C#C#"] / p99["jsjs"]:F2}");
        line($"Subscriber CPU per message, C#→C# / js→js: {subscriberCpu["C#C#"] / subscriberCpu["jsjs"]:F2}; one verify is {verifyUs:F0} µs, "
            + $"so a C# subscriber with a core to itself delivers {1e6 / subscriberCpu["C#C#"]:F0}/s = {verifyUs / subscriberCpu["C#C#"]:P0} of the verify rate");

        line("");
        line($"| network (each node dials 3 random others) | nodes | messages at 20/s | time to all nodes p50 ms | p99 ms | delivered |");
        line("|---|---|---|---|---|---|");
        Dictionary<string, (double P50, double P99)> mesh = [];
        foreach ((string name, string[] kinds) in MeshRuns(quick))
        {
            (double m50, double m99, double ratio) = await MeshAsync(kinds, js, meshMessages);
            mesh[name] = (m50, m99);
            line($"| {name} | {kinds.Length} | {meshMessages} | {m50:F2} | {m99:F2} | {ratio:F4} |");
        }
        line("");
        line($"C# / js, 10 nodes: p50 {mesh["C# ×10"].P50 / mesh["js ×10"].P50:F2}, p99 {mesh["C# ×10"].P99 / mesh["js ×10"].P99:F2}");
    }

    /// <summary>
    /// 10 nodes: C#, js and half-and-half. 30 nodes: C# only; 30 node processes on 2 cores starve each
    /// other and js's connection monitor then closes connections whose pings time out, so that network
    /// never stays whole long enough to measure.
    /// </summary>
    private static IEnumerable<(string Name, string[] Kinds)> MeshRuns(bool quick)
    {
        yield return ("C# ×10", [.. Enumerable.Repeat("C#", 10)]);
        yield return ("js ×10", [.. Enumerable.Repeat("js", 10)]);
        yield return ("mixed 5 C# + 5 js", [.. Enumerable.Range(0, 10).Select(i => i < 5 ? "C#" : "js")]);
        if (!quick)
            yield return ("C# ×30", [.. Enumerable.Repeat("C#", 30)]);
    }

    /// <summary>A random network, messages from random publishers at 20/s; per message the latest arrival over all other nodes.</summary>
    private static async Task<(double P50, double P99, double Delivered)> MeshAsync(string[] kinds, string js, int messages)
    {
        Random random = new(1);       // the same topology for every kind of network of this size
        int n = kinds.Length;
        PeerProcess[] nodes = await StartAsync(kinds, js);
        try
        {
            HashSet<(int, int)> links = [];
            for (int i = 0; i < n; i++)
            {
                foreach (int j in Enumerable.Range(0, n).Where(j => j != i).OrderBy(_ => random.Next()).Take(3))
                {
                    if (links.Add((Math.Min(i, j), Math.Max(i, j))))
                        await nodes[i].CommandAsync("dial", new JsonObject { ["addr"] = nodes[j].Address });
                }
            }
            await SubscribeAndMeshAsync(nodes, links, TimeSpan.FromSeconds(60));

            // Warm-up: every node publishes a few messages and receives everybody else's.
            await Task.WhenAll(nodes.Select(p => p.CommandAsync("benchReset")));
            for (int i = 0; i < n; i++)
                await nodes[i].CommandAsync("benchPublish", Publish(MeshWarmUp, 0, (uint)i, 0));
            await Task.WhenAll(nodes.Select(p => WaitForAsync(p, MeshWarmUp * (n - 1))));
            await Task.Delay(500);
            await Task.WhenAll(nodes.Select(p => p.CommandAsync("benchReset")));

            long start = Stopwatch.GetTimestamp();
            int[] publishers = new int[messages];
            for (int m = 0; m < messages; m++)
            {
                TimeSpan due = TimeSpan.FromSeconds(m / 20.0) - Stopwatch.GetElapsedTime(start);
                if (due > TimeSpan.Zero)
                    await Task.Delay(due);
                publishers[m] = random.Next(n);
                await nodes[publishers[m]].CommandAsync("benchPublish", Publish(1, 0, (uint)publishers[m], (uint)m));
            }
            int[] expected = [.. Enumerable.Range(0, n).Select(i => publishers.Count(p => p != i))];
            await Task.WhenAll(nodes.Select((p, i) => WaitForAsync(p, expected[i])));

            double[] slowest = new double[messages];
            int[] arrivals = new int[messages];
            foreach (PeerProcess node in nodes)
            {
                JsonObject received = await node.CommandAsync("benchReceived");
                JsonArray seqs = received["seqs"]!.AsArray();
                double[] latency = Latencies(received);
                for (int k = 0; k < latency.Length; k++)
                {
                    int m = seqs[k]!.GetValue<int>();
                    slowest[m] = Math.Max(slowest[m], latency[k]);
                    arrivals[m]++;
                }
            }
            double[] complete = [.. slowest.Where((_, m) => arrivals[m] == n - 1)];
            double delivered = arrivals.Sum() / (double)(messages * (n - 1));
            return (Percentile(complete, 50), Percentile(complete, 99), delivered);
        }
        finally
        {
            await StopAsync(nodes);
        }
    }

    /// <summary>Subscribes every node, then waits for the mesh: both ends of the link for two nodes, a connected mesh for more.</summary>
    private static async Task SubscribeAndMeshAsync(PeerProcess[] nodes, IEnumerable<(int A, int B)> links, TimeSpan bound)
    {
        foreach (PeerProcess node in nodes)
            await node.CommandAsync("subscribe", new JsonObject { ["topic"] = Topic });
        Dictionary<string, int> index = nodes.Select((p, i) => (p.PeerId, i)).ToDictionary(x => x.PeerId, x => x.i);
        Stopwatch watch = Stopwatch.StartNew();
        int n = nodes.Length;
        while (true)
        {
            // The mesh as an undirected graph: every node must reach every other through mesh links.
            List<int>[] adjacent = [.. Enumerable.Range(0, n).Select(_ => new List<int>())];
            for (int i = 0; i < n; i++)
            {
                JsonObject mesh = await nodes[i].CommandAsync("meshPeers", new JsonObject { ["topic"] = Topic });
                foreach (JsonNode? peer in mesh["peers"]!.AsArray())
                {
                    if (index.TryGetValue(peer!.GetValue<string>(), out int j))
                    {
                        adjacent[i].Add(j);
                        adjacent[j].Add(i);
                    }
                }
            }
            bool[] reached = new bool[n];
            Stack<int> todo = new([0]);
            reached[0] = true;
            while (todo.TryPop(out int i))
            {
                foreach (int j in adjacent[i].Where(j => !reached[j]))
                {
                    reached[j] = true;
                    todo.Push(j);
                }
            }
            if (reached.All(r => r) && (n > 2 || links.All(l => adjacent[l.A].Contains(l.B) && adjacent[l.B].Contains(l.A))))
                break;
            if (watch.Elapsed > bound)
                throw new TimeoutException($"the gossipsub mesh of {n} nodes did not form within {bound.TotalSeconds} s");
            await Task.Delay(200);
        }
        // A couple of heartbeats more, so that the meshes settle around D before measuring.
        if (n > 2)
            await Task.Delay(TimeSpan.FromSeconds(2));
    }

    private static async Task<bool> InMeshAsync(PeerProcess a, PeerProcess b)
    {
        JsonObject mesh = await a.CommandAsync("meshPeers", new JsonObject { ["topic"] = Topic });
        return mesh["peers"]!.AsArray().Any(p => p!.GetValue<string>() == b.PeerId);
    }

    /// <summary>Polls until <paramref name="expected"/> messages arrived or nothing more arrived for 3 s.</summary>
    private static async Task<JsonObject> WaitForAsync(PeerProcess node, int expected)
    {
        int last = -1;
        Stopwatch still = Stopwatch.StartNew();
        while (true)
        {
            JsonObject count = await node.CommandAsync("benchCount");
            int now = count["count"]!.GetValue<int>();
            if (now >= expected)
                return count;
            if (now != last)
            {
                last = now;
                still.Restart();
            }
            else if (still.Elapsed > TimeSpan.FromSeconds(3))
                return count;
            await Task.Delay(50);
        }
    }

    private static JsonObject Publish(int count, double rate, uint tag, uint firstSeq) => new()
    {
        ["topic"] = Topic,
        ["count"] = count,
        ["rate"] = rate,
        ["size"] = MessageSize,
        ["tag"] = tag,
        ["firstSeq"] = firstSeq,
        ["timeoutMs"] = 300_000,
    };

    private static async Task<PeerProcess[]> StartAsync(string[] kinds, string js)
    {
        List<Task<PeerProcess>> starting = [.. kinds.Select(k => k == "C#" ? PeerProcess.StartCSharpAsync(s_gossipsub) : PeerProcess.StartJsAsync(js, s_gossipsub))];
        try
        {
            return await Task.WhenAll(starting);
        }
        catch
        {
            await StopAsync([.. starting.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result)]);
            throw;
        }
    }

    private static Task StopAsync(PeerProcess[] nodes) => Task.WhenAll(nodes.Select(p => p.DisposeAsync().AsTask()));

    private static double[] Latencies(JsonObject received) =>
        [.. received["latencyUs"]!.AsArray().Select(v => v!.GetValue<double>() / 1000)];

    private static double Cpu(JsonObject count) => count["cpuMs"]!.GetValue<double>();

    private static long Ns(JsonNode? value) => long.Parse(value!.GetValue<string>(), CultureInfo.InvariantCulture);

    private static string Ratio(int got, int expected) => (got / (double)expected).ToString("F4", CultureInfo.InvariantCulture);

    private static double Percentile(double[] values, double p)
    {
        if (values.Length == 0)
            return double.NaN;
        double[] sorted = [.. values.Order()];
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    /// <summary>Ed25519 signature checks per second on one core, over what a 100-byte pubsub message signs.</summary>
    public static double MeasureVerifyRate(TimeSpan duration)
    {
        SignatureAlgorithm ed25519 = SignatureAlgorithm.Ed25519;
        using Key key = Key.Create(ed25519);
        byte[] data = RandomNumberGenerator.GetBytes(190);
        byte[] signature = ed25519.Sign(key, data);
        NSec.Cryptography.PublicKey publicKey = key.PublicKey;
        for (int i = 0; i < 500; i++)
            ed25519.Verify(publicKey, data, signature);      // warm up
        long checks = 0;
        Stopwatch watch = Stopwatch.StartNew();
        while (watch.Elapsed < duration)
        {
            for (int i = 0; i < 256; i++)
            {
                if (!ed25519.Verify(publicKey, data, signature))
                    throw new InvalidOperationException("a valid signature did not verify");
            }
            checks += 256;
        }
        return checks / watch.Elapsed.TotalSeconds;
    }
}
