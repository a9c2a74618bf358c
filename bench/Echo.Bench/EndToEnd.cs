using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Echo.Bench;

/// <summary>
/// End-to-end figures on loopback, C# and js-libp2p side by side in one run: single-stream
/// /perf/1.0.0 throughput, dial time to ready and to first ping, memory per idle connection, gossipsub
/// (<see cref="PubsubBench"/>).
/// Prints a Markdown report; the numbers in docs/BENCHMARKS.md come from it.
/// </summary>
internal static class EndToEnd
{
    public static async Task<int> RunAsync(string[] args)
    {
        bool quick = args.Contains("--quick");
        string? only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();   // throughput | dial | memory | pubsub
        bool Run(string section) => only is null || only == section;
        string js = FindJsPeer();
        StringBuilder report = new();
        void Line(string text)
        {
            Console.WriteLine(text);
            report.AppendLine(text);
        }

        Line($"# End-to-end run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores{(quick ? " (quick)" : "")}");
        double aead = CryptoBenchmarks.MeasureEncryptRate(TimeSpan.FromSeconds(quick ? 1 : 3));
        Line("");
        Line($"ChaCha20-Poly1305, one core, 65519-byte frames: {Mb(aead)} MB/s");

        // Throughput
        ulong csBytes = quick ? 256UL << 20 : 2UL << 30;
        ulong jsBytes = quick ? 64UL << 20 : 512UL << 20;
        int runs = quick ? 1 : 3;
        Line("");
        Line("## Single-stream throughput (/perf/1.0.0 over TCP + Noise + yamux), MB/s, median of " + runs);
        Line("");
        Line("| client → server | upload | download |");
        Line("|---|---|---|");
        Dictionary<string, double> upload = [];
        foreach ((string client, string server) in Run("throughput") ? new[] { ("C#", "C#"), ("C#", "js"), ("js", "C#"), ("js", "js") } : [])
        {
            if (args.Contains("--cs-only") && (client != "C#" || server != "C#"))
                continue;
            await using PeerProcess s = await Start(server, js);
            await using PeerProcess c = await Start(client, js);
            ulong bytes = client == "C#" && server == "C#" ? csBytes : jsBytes;
            await c.CommandAsync("dial", new JsonObject { ["addr"] = s.Address });
            // Warm up long enough for the JIT's tier-1 code to be in place on both sides (the first
            // gigabyte of a fresh C# process costs a third more CPU per byte than the rest).
            ulong warmUp = quick ? 64UL << 20 : 512UL << 20;
            await c.CommandAsync("perf", new JsonObject { ["addr"] = s.Address, ["uploadBytes"] = warmUp, ["downloadBytes"] = warmUp, ["timeoutMs"] = 600_000 });
            List<double> up = [], down = [];
            for (int i = 0; i < runs; i++)
            {
                JsonObject u = await c.CommandAsync("perf", new JsonObject { ["addr"] = s.Address, ["uploadBytes"] = bytes, ["downloadBytes"] = 0, ["timeoutMs"] = 600_000 });
                up.Add(bytes / (u["uploadMs"]!.GetValue<double>() / 1000));
                JsonObject d = await c.CommandAsync("perf", new JsonObject { ["addr"] = s.Address, ["uploadBytes"] = 0, ["downloadBytes"] = bytes, ["timeoutMs"] = 600_000 });
                down.Add(bytes / (d["downloadMs"]!.GetValue<double>() / 1000));
            }
            upload[$"{client}{server}"] = Median(up);
            Line($"| {client} → {server} | {Mb(Median(up))} | {Mb(Median(down))} |");
        }
        Line("");
        if (upload.TryGetValue("jsjs", out double jsjs))
            Line($"C#→C# / js→js: {upload["C#C#"] / jsjs:F1}x; C#→C# / one-core AEAD: {upload["C#C#"] / aead:P0}");

        // Dial
        int dials = quick ? 50 : 200;
        Line("");
        Line($"## Connection set-up, {dials} fresh dials, ms");
        Line("");
        Line("| dialer → listener | ready p50 | ready p99 | first ping p50 | first ping p99 |");
        Line("|---|---|---|---|---|");
        Dictionary<string, double> dialP50 = [];
        foreach ((string client, string server) in Run("dial") ? new[] { ("C#", "C#"), ("js", "js"), ("C#", "js"), ("js", "C#") } : [])
        {
            await using PeerProcess s = await Start(server, js);
            await using PeerProcess c = await Start(client, js);
            await c.CommandAsync("dialBench", new JsonObject { ["addr"] = s.Address, ["count"] = 10, ["mode"] = "newNode" });    // warm up
            JsonObject r = await c.CommandAsync("dialBench", new JsonObject { ["addr"] = s.Address, ["count"] = dials, ["mode"] = "newNode", ["timeoutMs"] = 600_000 }, TimeSpan.FromMinutes(10));
            double[] ready = [.. r["ready"]!.AsArray().Select(n => n!.GetValue<double>())];
            double[] ping = [.. r["firstPing"]!.AsArray().Select(n => n!.GetValue<double>())];
            dialP50[$"{client}{server}"] = Percentile(ready, 50);
            Line($"| {client} → {server} | {Percentile(ready, 50):F2} | {Percentile(ready, 99):F2} | {Percentile(ping, 50):F2} | {Percentile(ping, 99):F2} |");
        }
        Line("");
        if (dialP50.Count > 0)
            Line($"C#→C# / js→js dial p50: {dialP50["C#C#"] / dialP50["jsjs"]:F2}");

        // Memory
        Line("");
        Line("## Memory per idle connection (listener side), KB");
        Line("");
        // The last column is the heap each connection from the 101st to the 500th added: what the
        // first connections bring once (code paths run for the first time, pools, caches) is left out.
        Line("| listener (dialers) | 100 conns RSS/conn | 500 conns RSS/conn | 500 conns heap/conn | heap/conn 100→500 |");
        Line("|---|---|---|---|---|");
        Dictionary<string, double> perConn = [];
        foreach (string kind in Run("memory") ? new[] { "C#", "js" } : [])
        {
            await using PeerProcess s = await Start(kind, js);
            await using PeerProcess d = await Start(kind, js);
            JsonObject before = await s.CommandAsync("stats");
            List<string> cells = [];
            double heap500 = 0, heapAt100 = 0, marginal = 0;
            int have = 0;
            foreach (int n in new[] { 100, 500 })
            {
                await d.CommandAsync("spawnDialers", new JsonObject { ["addr"] = s.Address, ["count"] = n - have, ["timeoutMs"] = 600_000 }, TimeSpan.FromMinutes(10));
                have = n;
                JsonObject after = await s.CommandAsync("stats");
                double rss = (after["rss"]!.GetValue<double>() - before["rss"]!.GetValue<double>()) / n / 1024;
                double heap = after["heapUsed"]!.GetValue<double>() - before["heapUsed"]!.GetValue<double>();
                heap500 = heap / n / 1024;
                if (n == 100)
                    heapAt100 = heap;
                else
                    marginal = (heap - heapAt100) / (n - 100) / 1024;
                cells.Add(rss.ToString("F1", CultureInfo.InvariantCulture));
                perConn[kind] = rss;
            }
            Line($"| {kind} ({kind}) | {cells[0]} | {cells[1]} | {heap500:F1} | {marginal:F1} |");
        }
        Line("");
        if (perConn.Count > 1)
            Line($"C# / js RSS per connection at 500: {perConn["C#"] / perConn["js"]:P0}");
        if (Run("pubsub"))
            await PubsubBench.RunAsync(js, quick, args.Contains("--cs-only"), Line);
        string? output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault();
        if (output is not null)
            await File.WriteAllTextAsync(output, report.ToString());
        return 0;
    }

    private static Task<PeerProcess> Start(string kind, string js) =>
        kind == "C#" ? PeerProcess.StartCSharpAsync() : PeerProcess.StartJsAsync(js);

    private static string FindJsPeer()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "Echo.Interop.Tests", "interop", "js");
            if (File.Exists(Path.Combine(candidate, "peer.mjs")))
                return candidate;
        }
        throw new InvalidOperationException("cannot find tests/Echo.Interop.Tests/interop/js (run from the repository)");
    }

    private static double Median(List<double> values) => Percentile([.. values], 50);

    private static double Percentile(double[] values, double p)
    {
        double[] sorted = [.. values.Order()];
        int index = (int)Math.Ceiling(p / 100 * sorted.Length) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Length - 1)];
    }

    private static string Mb(double bytesPerSecond) => (bytesPerSecond / 1e6).ToString("F0", CultureInfo.InvariantCulture);
}
