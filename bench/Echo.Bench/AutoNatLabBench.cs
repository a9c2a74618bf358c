using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Echo.TestKit;
using Echo.TestKit.Lab;

namespace Echo.Bench;

/// <summary>
/// Time from start to an AutoNAT verdict in the NAT lab (tests/Echo.TestKit/Lab/NatLab.cs, needs
/// root, iptables and node with the lab's js packages): four public Echo nodes serve AutoNAT
/// (<c>--autonat-server</c>); per run a fresh Echo node on the lab's internet and a fresh one behind
/// router A start with the four as <c>--bootstrap</c> peers, and the time from starting the process
/// to its headless <c>reachability</c> verdict is taken. Then js-libp2p's own AutoNAT clients (v2,
/// lab/js/node.mjs <c>autonatCheck</c>) against the same Echo servers: time per check and the servers'
/// CPU per check. js cannot reach a verdict of its own in the lab (see <see cref="JsCannotJudge"/>).
/// </summary>
internal static class AutoNatLabBench
{
    private const int Port = 4001;

    /// <summary>Why js-libp2p's AutoNAT gives no verdict in the lab, printed with the figures.</summary>
    internal const string JsCannotJudge =
        "js-libp2p reaches no AutoNAT verdict of its own in the lab: every lab address is in 10/8, which js counts as private; "
        + "its clients never ask about a private address, its servers refuse to dial one (v2 throws, v1 filters), and for an observed "
        + "address it counts one answer per /8 network segment and needs 4 successes or 8 failures, while the whole lab is one /8. "
        + "So js is measured where it applies: its client's checks, one address at a time, against our server.";

    // Per server, one requester may ask 3 times a minute (the default rate limit): 4 servers, 3 each.
    private const int MaxJsChecks = 12;

    public static async Task<int> RunAsync(string[] args)
    {
        bool quick = args.Contains("--quick");
        int runs = quick ? 3 : 10;
        int at = Array.IndexOf(args, "--runs");
        if (at >= 0 && (at + 1 >= args.Length || !int.TryParse(args[at + 1], CultureInfo.InvariantCulture, out runs) || runs < 1))
        {
            Console.Error.WriteLine("--runs needs a positive number");
            return 2;
        }
        using CancellationTokenSource limit = new(TimeSpan.FromMinutes(30));
        CancellationToken ct = limit.Token;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# AutoNAT in the NAT lab, run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {runs} runs{(quick ? " (quick)" : "")}"));
        Console.WriteLine();
        NatLab lab;
        try
        {
            lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 0 }, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            // Not root, no iptables or node, or the js packages not installed (RequireAsync's skip).
            Console.WriteLine($"The NAT lab cannot be built here: {e.Message}");
            return 1;
        }
        await using (lab)
        {
            string[] common = ["--public-range", NatLab.InternetSubnet];
            LabHost[] serverHosts = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => lab.AddPublicHostAsync(ct)));
            EchoChatProcess[] servers = await Task.WhenAll(serverHosts.Select((h, i) =>
                lab.StartEchoAsync(h, $"server{i}", ["--autonat-server", .. common], ct, Port)));
            string[] serverAddresses = [.. servers.Select(s => s.Addresses.Single(a => a.Contains("/10.200.0.", StringComparison.Ordinal)))];
            string[] bootstrap = [.. serverAddresses.SelectMany(a => new[] { "--bootstrap", a })];
            LabHost publicHost = await lab.AddPublicHostAsync(ct);

            List<double> toPublic = [], toPrivate = [];
            for (int run = 0; run < runs; run++)
            {
                // A new listen port per run: the last run's connections from the old port to the
                // servers linger in TIME_WAIT, and a dial from that port would fall back to an
                // ephemeral one, which the NAT would not map to a single address.
                int port = Port + 100 + run;
                toPublic.Add(await TimeToVerdictAsync(publicHost, port, "public", [.. common, .. bootstrap], ct));
                toPrivate.Add(await TimeToVerdictAsync(lab.HomeA, port, "private", [.. common, "--observer-threshold", "4", .. bootstrap], ct));
            }
            Console.WriteLine("## Echo: start of `echo-chat` to its `reachability` verdict, ms");
            Console.WriteLine();
            Console.WriteLine("| node | verdict | p50 | p99 | max |");
            Console.WriteLine("|---|---|---|---|---|");
            Row("on the lab's internet", "public", toPublic);
            Row("behind router A (new inbound dropped)", "private", toPrivate);
            Console.WriteLine();

            int checks = Math.Min(runs, MaxJsChecks);
            // One js node per row: each asks each server at most three times (its per-peer limit).
            LabHost sameHost = await lab.AddPublicHostAsync(ct), otherHost = await lab.AddPublicHostAsync(ct);
            string otherIp = await lab.AddAddressAsync(otherHost, ct);
            LabJsNode[] js = await Task.WhenAll(lab.StartJsNodeAsync(sameHost, [], ct), lab.StartJsNodeAsync(otherHost, [otherIp], ct),
                lab.StartJsNodeAsync(lab.HomeB, [], ct));
            foreach (LabJsNode node in js)
            {
                foreach (string server in serverAddresses)
                    await node.CommandAsync("dial", new JsonObject { ["addr"] = server }, ct);
            }
            Console.WriteLine($"## js-libp2p's AutoNAT v2 client against our server, {checks} checks each (round robin over the four servers)");
            Console.WriteLine();
            Console.WriteLine(JsCannotJudge);
            Console.WriteLine();
            Console.WriteLine("| js node, address checked | answer | p50 ms | p99 ms | servers' CPU per check | of which idle (expected) |");
            Console.WriteLine("|---|---|---|---|---|---|");
            double idleRate = await IdleCpuRateAsync(servers, TimeSpan.FromSeconds(5), ct);
            await JsChecksAsync("on the lab's internet, the IP it dials from", js[0], servers, _ => $"/ip4/{sameHost.Address}/tcp/{Port}",
                checks, idleRate, ct);
            await JsChecksAsync("on the lab's internet, another IP (dial data)", js[1], servers, _ => $"/ip4/{otherIp}/tcp/{Port}",
                checks, idleRate, ct);
            // Behind the NAT each server saw another port (js dials from ephemeral ports); each is
            // asked about the address it observed, one at a time: js's client puts every address it
            // is checking into one request and reads one answer per address (so does js's server),
            // while the spec's server (ours, go's) dials one and answers once, so a second address
            // in flight would end js's read early. Each check waits out the server's dial-back
            // timeout (the router drops the SYNs).
            Dictionary<string, string> observed = await ObservedAsync(js[2], servers, ct);
            await JsChecksAsync("behind router B, its observed address", js[2], servers, s => observed[s.PeerId], checks, idleRate, ct);
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Servers' CPU: the four servers' CPU time during the checks, per check (10 ms clock ticks); idle, they use {idleRate:0} µs a second"));
            Console.WriteLine("in all (measured for 5 s before), which the last column charges to each check's wall time. A rough figure on a");
            Console.WriteLine("shared machine; `autonat` measures the cost per check in one process.");
        }
        return 0;
    }

    private static void Row(string node, string verdict, List<double> values) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {node} | {verdict} | {Percentile(values, 50):F0} | {Percentile(values, 99):F0} | {values.Max():F0} |"));

    /// <summary>Starts a fresh node on <paramref name="host"/> and returns the ms from the process start to its verdict.</summary>
    private static async Task<double> TimeToVerdictAsync(LabHost host, int port, string expected, string[] args, CancellationToken ct)
    {
        Stopwatch clock = Stopwatch.StartNew();
        await using EchoChatProcess node = await EchoChatProcess.StartAsync(expected, args, ct, networkNamespace: host.Namespace,
            listen: string.Create(CultureInfo.InvariantCulture, $"/ip4/{host.Address}/tcp/{port}"));
        JsonElement verdict = await node.NextAsync(e => e.GetProperty("type").GetString() == "reachability"
            && e.GetProperty("status").GetString() != "unknown", TimeSpan.FromSeconds(60), ct);
        double ms = clock.Elapsed.TotalMilliseconds;
        string status = verdict.GetProperty("status").GetString()!;
        return status == expected ? ms : throw new InvalidOperationException($"the {expected} node was judged {status}: {verdict.GetRawText()}");
    }

    /// <summary>How each server observed <paramref name="js"/> (its identify answers), by server peer id.</summary>
    private static async Task<Dictionary<string, string>> ObservedAsync(LabJsNode js, EchoChatProcess[] servers, CancellationToken ct)
    {
        Dictionary<string, string> observed = [];
        await js.NextEventAsync(e =>
        {
            if (e.GetProperty("type").GetString() == "identify" && e.GetProperty("peerId").GetString() is { } peer
                && servers.Any(s => s.PeerId == peer))
                observed[peer] = e.GetProperty("observedAddr").GetString()!;
            return observed.Count == servers.Length;
        }, TimeSpan.FromSeconds(10), ct);
        return observed;
    }

    /// <summary>The servers' CPU time per second of wall time while nothing asks them anything, µs.</summary>
    private static async Task<double> IdleCpuRateAsync(EchoChatProcess[] servers, TimeSpan window, CancellationToken ct)
    {
        Process[] processes = [.. servers.Select(s => Process.GetProcessById(s.ProcessId))];
        try
        {
            TimeSpan before = Cpu(processes);
            Stopwatch wall = Stopwatch.StartNew();
            await Task.Delay(window, ct);
            return (Cpu(processes) - before).TotalMicroseconds / wall.Elapsed.TotalSeconds;
        }
        finally
        {
            foreach (Process process in processes)
                process.Dispose();
        }
    }

    /// <summary>
    /// <paramref name="count"/> js v2 checks one after the other, each with the next server and the
    /// <paramref name="address"/> for it; prints their time and the servers' CPU per check.
    /// </summary>
    private static async Task JsChecksAsync(string what, LabJsNode js, EchoChatProcess[] servers, Func<EchoChatProcess, string> address,
        int count, double idleRate, CancellationToken ct)
    {
        Process[] serverProcesses = [.. servers.Select(s => Process.GetProcessById(s.ProcessId))];
        TimeSpan cpuBefore = Cpu(serverProcesses);
        Stopwatch wall = Stopwatch.StartNew();
        List<double> times = [];
        Dictionary<string, int> answers = [];
        for (int i = 0; i < count; i++)
        {
            EchoChatProcess server = servers[i % servers.Length];
            string answer;
            try
            {
                JsonElement reply = await js.CommandAsync("autonatCheck",
                    new JsonObject { ["peer"] = server.PeerId, ["addr"] = address(server), ["version"] = 2 }, ct);
                times.Add(reply.GetProperty("ms").GetDouble());
                answer = reply.GetProperty("confirmed").GetBoolean() ? "confirmed"
                    : reply.GetProperty("failure").GetInt32() > 0 ? "dial error" : "no answer";
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"{what}: {e.Message}\n{js.StandardError}");
                answer = "failed";
            }
            answers[answer] = answers.GetValueOrDefault(answer) + 1;
        }
        double cpuMicros = (Cpu(serverProcesses) - cpuBefore).TotalMicroseconds / count;
        double idleMicros = idleRate * wall.Elapsed.TotalSeconds / count;
        foreach (Process process in serverProcesses)
            process.Dispose();
        string answerText = string.Join(", ", answers.Select(a => $"{a.Key} {a.Value}/{count}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {what} | {answerText} | {Percentile(times, 50):F1} | {Percentile(times, 99):F1} | {cpuMicros:0} µs | {idleMicros:0} µs |"));
    }

    private static TimeSpan Cpu(Process[] processes)
    {
        TimeSpan sum = TimeSpan.Zero;
        foreach (Process process in processes)
        {
            process.Refresh();
            sum += process.TotalProcessorTime;
        }
        return sum;
    }

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
            return double.NaN;
        List<double> sorted = [.. values.Order()];
        return sorted[(int)Math.Clamp(Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }
}
