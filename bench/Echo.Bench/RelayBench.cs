using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json.Nodes;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Relay;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Bench;

/// <summary>
/// <c>echo-bench relay [--quick] [--circuits N]</c>: what a relay process spends per active circuit,
/// our relay (<c>echo-bench relay-peer</c>: an Echo node with the relay service on) beside js-libp2p's
/// circuit-relay-v2 server (the NAT lab's node.mjs with <c>RELAY=1</c>), both on loopback in the same
/// run, both serving the same load at the same time from two identical sets of C# clients in this
/// process: per set, destinations that reserve on their relay and sources that dial every destination
/// through it (<c>…/p2p-circuit/p2p/&lt;dest&gt;</c>), N circuits in all. Each circuit carries one
/// 96-byte text message a second each way (the destination echoes it) for a window, then stays idle
/// for a window. Per relay process: CPU time over each window (less the rate measured before any
/// circuit, with the reservations held) and resident memory (VmRSS) against the same baseline, per
/// circuit. Loopback clients all come from 127.0.0.1, so both relays run with their per-IP and
/// per-peer caps lifted (see <see cref="RelayPeerMode.BenchOptions"/> and node.mjs's bench variables)
/// and the same circuit duration limit (10 min, past the run); the data limit stays 128 KiB.
/// </summary>
internal static class RelayBench
{
    private const string ChatProtocol = "/echo-bench/relay-chat/1.0.0";
    private const int MessageBytes = 96;
    private static readonly TimeSpan s_circuitDuration = TimeSpan.FromMinutes(10);

    /// <summary>Warm-up circuits per relay before the baseline: past the runtime's 30 calls before it optimizes a method.</summary>
    private const int WarmUpCircuits = 40;

    // RELAY_LOG=clients: the clients' Debug logs on stderr.
    private static readonly ILoggerFactory s_clientLoggers = Environment.GetEnvironmentVariable("RELAY_LOG") == "clients"
        ? LoggerFactory.Create(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Debug))
        : NullLoggerFactory.Instance;

    private sealed record Figures(string Relay, int Circuits, double BaseRssMiB, double CpuActiveUs, double CpuIdleUs,
        double RssActiveKiB, double RssIdleKiB, double GcRssActiveKiB, double GcRssIdleKiB, int AliveAtEnd, long Messages);

    public static async Task<int> RunAsync(string[] args)
    {
        bool quick = args.Contains("--quick");
        List<int> counts = quick ? [50] : [50, 200];
        int at = Array.IndexOf(args, "--circuits");
        if (at >= 0)
        {
            if (at + 1 >= args.Length || !int.TryParse(args[at + 1], CultureInfo.InvariantCulture, out int n) || n < 1)
            {
                Console.Error.WriteLine("--circuits needs a positive number");
                return 2;
            }
            counts = [n];
        }
        int destinationsWanted = 0;
        int dat = Array.IndexOf(args, "--destinations");
        if (dat >= 0 && (dat + 1 >= args.Length || !int.TryParse(args[dat + 1], CultureInfo.InvariantCulture, out destinationsWanted) || destinationsWanted < 1))
        {
            Console.Error.WriteLine("--destinations needs a positive number");
            return 2;
        }
        TimeSpan window = TimeSpan.FromSeconds(quick ? 10 : 30);
        string labJs = FindLabJs();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# Relay service cost per circuit, run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, load average {LoadAverage()}{(quick ? " (quick)" : "")}"));
        Console.WriteLine();
        List<Figures> figures = [];
        foreach (int n in counts)
            figures.AddRange(await RunOneAsync(n, destinationsWanted, window, labJs));
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"## Per circuit: {window.TotalSeconds:0} s active (one {MessageBytes}-byte message a second each way), then {window.TotalSeconds:0} s idle"));
        Console.WriteLine();
        Console.WriteLine("| relay | circuits | base RSS MiB | CPU active µs/s | CPU idle µs/s | RSS active KiB | RSS idle KiB | RSS after GC, active KiB | RSS after GC, idle KiB | alive at end | round trips |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (Figures f in figures)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {f.Relay} | {f.Circuits} | {f.BaseRssMiB:0.0} | {f.CpuActiveUs:0.0} | {f.CpuIdleUs:0.00} | {f.RssActiveKiB:0.0} | {f.RssIdleKiB:0.0} | {f.GcRssActiveKiB:0.0} | {f.GcRssIdleKiB:0.0} | {f.AliveAtEnd}/{f.Circuits} | {f.Messages} |"));
        }
        Console.WriteLine();
        foreach (IGrouping<int, Figures> group in figures.GroupBy(f => f.Circuits))
        {
            Figures ours = group.Single(f => f.Relay == "Echo"), js = group.Single(f => f.Relay == "js");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{group.Key} circuits, Echo / js per circuit: CPU active {Ratio(ours.CpuActiveUs, js.CpuActiveUs)}, CPU idle {Ratio(ours.CpuIdleUs, js.CpuIdleUs)}, RSS active {Ratio(ours.RssActiveKiB, js.RssActiveKiB)}, RSS idle {Ratio(ours.RssIdleKiB, js.RssIdleKiB)}, after GC: active {Ratio(ours.GcRssActiveKiB, js.GcRssActiveKiB)}, idle {Ratio(ours.GcRssIdleKiB, js.GcRssIdleKiB)}"));
        }
        Console.WriteLine();
        Console.WriteLine($"load average at the end {LoadAverage()}");
        return 0;
    }

    private static string Mib(JsonNode? bytes) =>
        string.Create(CultureInfo.InvariantCulture, $"{(bytes?.GetValue<long>() ?? 0) / 1048576.0:0.0}");

    private static string Ratio(double ours, double js) =>
        js > 0 ? string.Create(CultureInfo.InvariantCulture, $"{ours / js:0.00}") : "n/a";

    private static async Task<Figures[]> RunOneAsync(int n, int destinationsWanted, TimeSpan window, string labJs)
    {
        int destinations = destinationsWanted > 0 ? Math.Min(destinationsWanted, n) : Math.Max(1, (int)Math.Round(Math.Sqrt(n / 2.0)));
        int sources = (n + destinations - 1) / destinations;
        Console.WriteLine($"{n} circuits per relay: {destinations} destinations × {sources} sources per client set");
        await using PeerProcess ours = await PeerProcess.StartCSharpAsync(new Dictionary<string, string>
        {
            ["RELAY_DURATION_S"] = ((int)s_circuitDuration.TotalSeconds).ToString(CultureInfo.InvariantCulture),
            ["RELAY_KEEP_MALLOC"] = Environment.GetEnvironmentVariable("RELAY_KEEP_MALLOC") ?? "",
        }, "relay-peer");
        await using PeerProcess js = await PeerProcess.StartJsLabNodeAsync(labJs, new Dictionary<string, string>
        {
            ["LISTEN"] = "/ip4/127.0.0.1/tcp/0",
            ["RELAY"] = "1",
            ["RELAY_MAX_RESERVATIONS"] = "4096",
            ["RELAY_DURATION_LIMIT_MS"] = ((int)s_circuitDuration.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            ["MAX_CONNECTIONS"] = "4096",
            ["INBOUND_CONNECTION_THRESHOLD"] = "100000",
            ["MAX_INCOMING_PENDING_CONNECTIONS"] = "1000",
            ["NODE_NO_WARNINGS"] = "1",
        });
        PeerProcess[] relays = [ours, js];
        string[] names = ["Echo", "js"];
        using CancellationTokenSource limit = new(TimeSpan.FromMinutes(8));
        CancellationToken ct = limit.Token;
        ClientSet[] sets = [new("Echo", ours.Address, destinations, sources, n), new("js", js.Address, destinations, sources, n)];
        try
        {
            await Task.WhenAll(sets.Select(s => s.ReserveAsync(ct)));
            Console.WriteLine("  reservations held on both relays");
            // One circuit more per relay before the baseline, with traffic, kept open: the first circuit
            // costs each process its relay code (JIT, caches) once, which is no cost per circuit.
            // Warm-up load until our relay compiles no more (js's engine optimizes the same way meanwhile).
            await Task.WhenAll(sets.Select(s => s.WarmUpAsync(ct)));
            using (CancellationTokenSource stopWarmUp = new())
            {
                Task[] warmLoads = [.. sets.Select(s => s.RunWarmUpLoadAsync(stopWarmUp.Token, ct))];
                long compiled = await JitSettledAsync(ours, ct);
                await stopWarmUp.CancelAsync();
                await Task.WhenAll(warmLoads);
                Console.WriteLine($"  warm-up circuits open and idle; our relay's compiled methods settled at {compiled}");
            }
            await Task.Delay(TimeSpan.FromSeconds(3), ct);
            JsonObject oursBefore = await ours.CommandAsync("stats");
            (double[] baseRate, double[] baseRss) = await CpuRatesAsync(relays, window / 2, ct);
            long[] baseGcRss = await RssAfterCollectionAsync(relays);

            await Task.WhenAll(sets.Select(s => s.OpenCircuitsAsync(ct)));
            Console.WriteLine("  circuits open through both relays");

            // Active: the load runs for a warm-up second, then the window.
            using CancellationTokenSource stopLoad = new();
            Task[] loads = [.. sets.Select(s => s.RunLoadAsync(stopLoad.Token, ct))];
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
            (double[] activeRate, double[] activeRss) = await CpuRatesAsync(relays, window, ct);
            long[] activeGcRss = await RssAfterCollectionAsync(relays);
            JsonObject oursActive = await ours.CommandAsync("stats");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  Echo relay, before the circuits → active: threads {oursBefore["threads"]} → {oursActive["threads"]}, GC heap {Mib(oursBefore["gcHeapBytes"])} → {Mib(oursActive["gcHeapBytes"])} MiB, GC committed {Mib(oursBefore["gcCommittedBytes"])} → {Mib(oursActive["gcCommittedBytes"])} MiB, compiled methods {oursBefore["jitMethods"]} → {oursActive["jitMethods"]}, circuits {oursActive["circuits"]}"));
            await stopLoad.CancelAsync();
            await Task.WhenAll(loads);
            long[] messages = [.. sets.Select(s => s.RoundTrips)];
            Console.WriteLine("  active window done");

            // Idle: the circuits stay open, nothing crosses them.
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
            (double[] idleRate, double[] idleRss) = await CpuRatesAsync(relays, window, ct);
            long[] idleGcRss = await RssAfterCollectionAsync(relays);
            int[] alive = await Task.WhenAll(sets.Select(s => s.CountAliveAsync(ct)));
            Console.WriteLine("  idle window done");

            return [.. Enumerable.Range(0, 2).Select(i => new Figures(names[i], n, baseRss[i] / 1048576.0,
                (activeRate[i] - baseRate[i]) / n, (idleRate[i] - baseRate[i]) / n,
                (activeRss[i] - baseRss[i]) / 1024.0 / n, (idleRss[i] - baseRss[i]) / 1024.0 / n,
                (activeGcRss[i] - baseGcRss[i]) / 1024.0 / n, (idleGcRss[i] - baseGcRss[i]) / 1024.0 / n, alive[i], messages[i]))];
        }
        finally
        {
            await Task.WhenAll(sets.Select(s => s.DisposeAsync().AsTask()));
        }
    }

    /// <summary>
    /// Waits (at least 10 s, at most 60 s) until our relay has compiled no new method for 5 s: the runtime optimizes hot
    /// methods on a background thread some time after they got hot, and that compilation is no cost per circuit.
    /// </summary>
    private static async Task<long> JitSettledAsync(PeerProcess ours, CancellationToken ct)
    {
        long last = -1;
        int quiet = 0;
        Stopwatch clock = Stopwatch.StartNew();
        while ((quiet < 5 || clock.Elapsed < TimeSpan.FromSeconds(10)) && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            long now = (await ours.CommandAsync("stats"))["jitMethods"]?.GetValue<long>() ?? 0;
            quiet = now == last ? quiet + 1 : 0;
            last = now;
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }
        return last;
    }

    /// <summary>
    /// Each process's resident size right after a full collection (both relays answer the <c>heap</c>
    /// command after one, compacting in ours): what they hold, whenever their collector last ran.
    /// </summary>
    private static async Task<long[]> RssAfterCollectionAsync(PeerProcess[] processes)
    {
        await Task.WhenAll(processes.Select(p => p.CommandAsync("heap", timeout: TimeSpan.FromSeconds(30))));
        await Task.Delay(TimeSpan.FromSeconds(1));
        return [.. processes.Select(p => Rss(p.Pid))];
    }

    /// <summary>
    /// Each process's CPU time per second of wall time over <paramref name="window"/>, µs/s, and its mean
    /// resident size over the window (sampled every second, bytes): a garbage-collected heap rises and
    /// falls between collections, so a single reading says more about when the last collection ran than
    /// about what the process holds.
    /// </summary>
    private static async Task<(double[] Rates, double[] Rss)> CpuRatesAsync(PeerProcess[] processes, TimeSpan window, CancellationToken ct)
    {
        TimeSpan[] before = [.. processes.Select(p => Cpu(p.Pid))];
        Stopwatch wall = Stopwatch.StartNew();
        double[] rss = new double[processes.Length];
        int samples = 0;
        while (wall.Elapsed < window)
        {
            for (int i = 0; i < processes.Length; i++)
                rss[i] += Rss(processes[i].Pid);
            samples++;
            TimeSpan left = window - wall.Elapsed;
            await Task.Delay(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1), ct);
        }
        TimeSpan[] after = [.. processes.Select(p => Cpu(p.Pid))];
        double seconds = wall.Elapsed.TotalSeconds;
        return ([.. Enumerable.Range(0, processes.Length).Select(i => (after[i] - before[i]).TotalMicroseconds / seconds)],
            [.. rss.Select(r => r / samples)]);
    }

    private static TimeSpan Cpu(int pid)
    {
        using Process process = Process.GetProcessById(pid);
        return process.TotalProcessorTime;
    }

    /// <summary>Resident set size in bytes (VmRSS of /proc/&lt;pid&gt;/status).</summary>
    private static long Rss(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException($"no VmRSS for process {pid}");
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static string FindLabJs()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "Echo.System.Tests", "lab", "js");
            if (File.Exists(Path.Combine(candidate, "node.mjs")) && Directory.Exists(Path.Combine(candidate, "node_modules")))
                return candidate;
        }
        throw new InvalidOperationException("cannot find tests/Echo.System.Tests/lab/js with its node_modules (run from the repository; npm ci there)");
    }

    /// <summary>One relay's clients: destinations holding a reservation on it, sources dialing each destination through it.</summary>
    private sealed class ClientSet(string name, string relayAddress, int destinationCount, int sourceCount, int circuitCount) : IAsyncDisposable
    {
        private readonly List<(Libp2pHost Host, RelayClient Client)> _destinations = [];
        private readonly List<(Libp2pHost Host, RelayClient Client)> _sources = [];
        private readonly List<(Libp2pHost Host, RelayClient Client)> _warmUp = [];
        private readonly List<P2PStream> _circuits = [];
        private readonly List<P2PStream> _warmUpCircuits = [];
        private int _warmUpLost;
        private long _roundTrips;

        public long RoundTrips => Interlocked.Read(ref _roundTrips);

        private static async Task<(Libp2pHost, RelayClient)> StartHostAsync(RelayClientOptions options, CancellationToken ct)
        {
            KeyPair key = KeyPair.Generate();
            Libp2pHost host = new(key, new HostOptions { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] }, s_clientLoggers);
            await host.StartAsync(ct);
            host.SetStreamHandler(ChatProtocol, EchoAsync, 256, allowOnLimited: true);
            host.AllowOnLimitedConnections(ChatProtocol);
            return (host, new RelayClient(host, options, s_clientLoggers));
        }

        public async Task ReserveAsync(CancellationToken ct)
        {
            Multiaddr relay = Multiaddr.Parse(relayAddress);
            RelayClientOptions options = new()
            {
                ReserveAlways = true,
                DesiredReservations = 1,
                PreferredRelays = [relay.PeerId!],
                CheckInterval = TimeSpan.FromMilliseconds(200),
                MaxCircuitsPerRelay = 256,
            };
            for (int i = 0; i < destinationCount; i++)
            {
                (Libp2pHost host, RelayClient client) = await StartHostAsync(options, ct);
                _destinations.Add((host, client));
                client.Start();
                await host.DialAsync(relay, ct);
            }
            for (int i = 0; i < sourceCount; i++)
            {
                (Libp2pHost host, RelayClient client) = await StartHostAsync(options, ct);
                _sources.Add((host, client));
                await host.DialAsync(relay, ct);
            }
            Stopwatch clock = Stopwatch.StartNew();
            while (_destinations.Any(d => d.Client.Reservations.Count == 0))
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(60))
                    throw new TimeoutException($"destinations without a reservation on {relayAddress} after 60 s");
                await Task.Delay(100, ct);
            }
        }

        /// <summary>
        /// Circuits from more sources, not counted: <see cref="WarmUpCircuits"/> or a few more (one per source
        /// and destination) opened with a round trip each and closed, then as many again left open. The
        /// runtime compiles a method again, optimized, after it ran 30 times (twice with profile-guided
        /// optimization: instrumented, then final), on a background thread; the code that opens a circuit
        /// runs once per circuit, so a single warm-up circuit left that compilation, and the compiler's
        /// scratch memory that the C library keeps afterwards, to the measured window.
        /// </summary>
        public async Task WarmUpAsync(CancellationToken ct)
        {
            Multiaddr relay = Multiaddr.Parse(relayAddress);
            int hosts = (WarmUpCircuits + _destinations.Count - 1) / _destinations.Count;
            for (int round = 0; round < 2; round++)
            {
                List<(Libp2pHost Host, RelayClient Client)> opened = [];
                for (int h = 0; h < hosts; h++)
                {
                    (Libp2pHost host, RelayClient client) = await StartHostAsync(new RelayClientOptions(), ct);
                    opened.Add((host, client));
                    await host.DialAsync(relay, ct);
                    foreach ((Libp2pHost destination, RelayClient _) in _destinations)
                    {
                        Connection connection = await host.DialAsync(Multiaddr.Parse($"{relayAddress}/p2p-circuit/p2p/{destination.PeerId}"), ct);
                        P2PStream stream = await connection.OpenStreamAsync(ChatProtocol, ct);
                        await RoundTripAsync(stream, 0, ct);
                        if (round == 1)
                            _warmUpCircuits.Add(stream);
                    }
                }
                if (round == 1)
                    _warmUp.AddRange(opened);
                else
                {
                    foreach ((Libp2pHost host, RelayClient client) in opened)
                    {
                        await client.DisposeAsync();
                        await host.DisposeAsync();
                    }
                }
            }
        }

        /// <summary>Warm-up circuits that ended during the warm-up load (they are only warm-up: the run goes on).</summary>
        public int WarmUpLost => Volatile.Read(ref _warmUpLost);

        /// <summary>Round trips on every open warm-up circuit, each every 100 ms, until <paramref name="stop"/>.</summary>
        public Task RunWarmUpLoadAsync(CancellationToken stop, CancellationToken ct) => Task.WhenAll(_warmUpCircuits.Select(async stream =>
        {
            try
            {
                for (long sequence = 1; !stop.IsCancellationRequested; sequence++)
                {
                    await RoundTripAsync(stream, sequence, ct);
                    await Task.Delay(100, stop);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
            {
                Interlocked.Increment(ref _warmUpLost);
                Console.WriteLine($"  {name}: a warm-up circuit ended: {e.Message}");
            }
        }));

        public async Task OpenCircuitsAsync(CancellationToken ct)
        {
            List<(Libp2pHost Source, PeerId Destination)> pairs = [.. _sources
                .SelectMany(s => _destinations.Select(d => (s.Host, d.Host.PeerId)))
                .Take(circuitCount)];
            using SemaphoreSlim parallel = new(8);
            await Task.WhenAll(pairs.Select(async pair =>
            {
                await parallel.WaitAsync(ct);
                try
                {
                    Connection connection;
                    try
                    {
                        connection = await pair.Source.DialAsync(Multiaddr.Parse($"{relayAddress}/p2p-circuit/p2p/{pair.Destination}"), ct);
                    }
                    catch (DialFailedException e)
                    {
                        int circuits = _destinations.Single(d => d.Host.PeerId == pair.Destination).Host.Connections.Count(c => c.IsLimited);
                        throw new InvalidOperationException($"{name}: a circuit to a destination holding {circuits} failed: {e.Message}", e);
                    }
                    if (!connection.IsLimited)
                        throw new InvalidOperationException($"the connection to {pair.Destination} is not relayed");
                    P2PStream stream = await connection.OpenStreamAsync(ChatProtocol, ct);
                    await RoundTripAsync(stream, 0, ct);
                    lock (_circuits)
                        _circuits.Add(stream);
                }
                finally
                {
                    parallel.Release();
                }
            }));
        }

        /// <summary>One message a second each way on every circuit until <paramref name="stop"/>, each circuit starting at a random offset.</summary>
        public Task RunLoadAsync(CancellationToken stop, CancellationToken ct) => Task.WhenAll(_circuits.Select(async stream =>
        {
            try
            {
                await Task.Delay(Random.Shared.Next(1000), stop);
                long sequence = 1;
                while (!stop.IsCancellationRequested)
                {
                    long started = Stopwatch.GetTimestamp();
                    await RoundTripAsync(stream, sequence++, ct);
                    Interlocked.Increment(ref _roundTrips);
                    TimeSpan rest = TimeSpan.FromSeconds(1) - Stopwatch.GetElapsedTime(started);
                    if (rest > TimeSpan.Zero)
                        await Task.Delay(rest, stop);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }));

        /// <summary>The circuits that still carry a round trip.</summary>
        public async Task<int> CountAliveAsync(CancellationToken ct)
        {
            bool[] alive = await Task.WhenAll(_circuits.Select(async stream =>
            {
                try
                {
                    using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    timeout.CancelAfter(TimeSpan.FromSeconds(20));
                    await RoundTripAsync(stream, -1, timeout.Token);
                    return true;
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
                {
                    return false;
                }
            }));
            return alive.Count(a => a);
        }

        private static async Task RoundTripAsync(P2PStream stream, long sequence, CancellationToken ct)
        {
            byte[] message = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"msg {sequence:D8} hello from the relay bench, a short chat line").PadRight(MessageBytes, '.'));
            await stream.Output.WriteAsync(message, ct);
            long left = MessageBytes;
            while (left > 0)
            {
                ReadResult read = await stream.Input.ReadAsync(ct);
                long take = Math.Min(left, read.Buffer.Length);
                left -= take;
                stream.Input.AdvanceTo(read.Buffer.GetPosition(take));
                if (left > 0 && read.IsCompleted)
                    throw new IOException("the circuit ended");
            }
        }

        /// <summary>The destination's side: every byte back as it came.</summary>
        private static async Task EchoAsync(P2PStream stream, CancellationToken ct)
        {
            try
            {
                while (true)
                {
                    ReadResult read = await stream.Input.ReadAsync(ct);
                    foreach (ReadOnlyMemory<byte> segment in read.Buffer)
                        stream.Output.Write(segment.Span);
                    stream.Input.AdvanceTo(read.Buffer.End);
                    await stream.Output.FlushAsync(ct);
                    if (read.IsCompleted)
                        return;
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach ((Libp2pHost host, RelayClient client) in _warmUp.Concat(_sources).Concat(_destinations))
            {
                await client.DisposeAsync();
                await host.DisposeAsync();
            }
        }
    }
}
