using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.SystemTests;

/// <summary>
/// The memory budget against another host (docs/LIMITS.md, L-memory-budget): 64 connections, from
/// eight addresses of the attacker's namespace (eight each, L-conn-per-address), each opening 124
/// streams and pushing data the target never reads. The target runs with <c>--memory-budget 128</c> (the default);
/// its RSS may grow by at most the budget plus 64 MiB. A second wave after the first left is let in
/// as far as the first: the first wave's windows went back to the budget. Meanwhile an honest peer
/// on another address exchanges a room message both ways within 5 s. The streams are identify
/// streams: its handler answers and returns without reading; until then what is pushed is held in the
/// stream's window, reserved from the budget (the target's <c>/stats</c>: in use, refused), after that it
/// is dropped. What grows outside the budget (receive buffers, pipes, the heap) is the 64 MiB.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class MemoryFloodNamespaceTests
{
    private const int BudgetMiB = 128;              // the default, given explicitly
    private const int Addresses = 8;
    private const int ConnectionsPerAddress = 8;         // ResourceLimits.MaxConnectionsPerAddress
    private const int StreamsPerConnection = 124;
    private const int PushBytesPerStream = 1 << 20;      // far more than a stream's window
    private static readonly TimeSpan Served = TimeSpan.FromSeconds(5);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Report(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    [Fact(Timeout = 480_000)]
    public async Task Sixty_four_connections_pushing_unread_data_into_124_streams_each_stay_within_the_budget_and_an_honest_peer_is_served()
    {
        await using NetworkNamespaceLan lan = await NetworkNamespaceLan.CreateAsync(3, Ct);
        IPAddress[] sources = [.. Enumerable.Range(0, Addresses).Select(i => IPAddress.Parse($"10.77.0.{20 + i}"))];
        foreach (IPAddress source in sources)
            await RunAsync(["ip", "-n", lan.Hosts[1], "addr", "add", source + "/24", "dev", lan.Interfaces[1]]);
        await using EchoChatProcess target = await EchoChatProcess.StartAsync("target", ["--memory-budget", BudgetMiB.ToString(CultureInfo.InvariantCulture)],
            Ct, networkNamespace: lan.Hosts[0], listen: $"/ip4/{NetworkNamespaceLan.Address(0)}/tcp/0");
        await using EchoChatProcess honest = await EchoChatProcess.StartAsync("honest", [], Ct, networkNamespace: lan.Hosts[2],
            listen: $"/ip4/{NetworkNamespaceLan.Address(2)}/tcp/0");
        Assert.True(Multiaddr.Parse(target.Address).TryGetTcpEndPoint(out IPEndPoint? endPoint));
        List<NamespaceForwarder> routes = [.. sources.Select(s => NamespaceForwarder.Start(lan.Hosts[1], endPoint!, s))];
        try
        {
            long before = RssBytes(target.Pid);
            Wave first = await AttackAsync(routes, target, honest, chat: true);
            long afterFirst = RssBytes(target.Pid);
            Stats heldAfterFirst = await StatsAsync(target);
            Wave second = await AttackAsync(routes, target, honest, chat: false);
            long afterSecond = RssBytes(target.Pid);
            Stats heldAfterSecond = await StatsAsync(target);

            long bound = (BudgetMiB + 64L) << 20;
            Report($"target RSS {Mib(before)} before; first wave: {first}, RSS at most {Mib(first.PeakRss)}, {Mib(afterFirst)} after it left; "
                   + $"second wave: {second}, RSS at most {Mib(second.PeakRss)}, {Mib(afterSecond)} after it left; "
                   + $"growth bound {Mib(bound)} (budget {BudgetMiB} MiB + 64 MiB); budget in use after the waves left: "
                   + $"{heldAfterFirst.MemoryInUse} and {heldAfterSecond.MemoryInUse} bytes");
            Assert.Equal(Addresses * ConnectionsPerAddress, first.Connections);
            Assert.Equal(Addresses * ConnectionsPerAddress, second.Connections);
            Assert.True(Math.Max(first.PeakRss, second.PeakRss) - before <= bound,
                $"RSS grew by {Mib(Math.Max(first.PeakRss, second.PeakRss) - before)}, more than {Mib(bound)}");
            // The windows the attack held were reserved from the budget (whether it ran out and refused
            // streams depends on how fast the identify handlers return: 0 to 4,000 a wave were measured) ...
            Assert.True(Math.Max(first.BudgetPeak, second.BudgetPeak) > 0, "the budget counted none of the windows the attack held");
            // ... and what each wave held went back to the budget when it left (the honest peer's connection
            // stays). How many streams a wave gets is no measure of that: it too depends on the handlers' speed.
            Assert.True(heldAfterFirst.MemoryInUse <= 1 << 20, $"{heldAfterFirst.MemoryInUse} bytes of the budget still held after the first wave left");
            Assert.True(heldAfterSecond.MemoryInUse <= 1 << 20, $"{heldAfterSecond.MemoryInUse} bytes of the budget still held after the second wave left");
        }
        finally
        {
            foreach (NamespaceForwarder route in routes)
                await route.DisposeAsync();
        }
    }

    private sealed record Wave(int Connections, int Accepted, int Refused, long Pushed, long PeakRss, TimeSpan? Chat, long BudgetPeak, Stats End)
    {
        public override string ToString() =>
            $"{Connections} connections, {Accepted} streams let in, {Refused} refused, {Pushed >> 20} MiB pushed, "
            + $"budget in use at most {Mib(BudgetPeak)} of {Mib(End.MemoryBudget)}, refused so far: {End.Refused}"
            + (Chat is { } chat ? $", honest peer served in {chat.TotalSeconds:0.00} s" : "");
    }

    /// <summary>The target's budget counters (the headless <c>stats</c> event).</summary>
    private sealed record Stats(long MemoryInUse, long MemoryBudget, string Refused);

    private static async Task<Stats> StatsAsync(EchoChatProcess target)
    {
        await target.SendLineAsync("/stats");
        JsonElement stats = await target.NextAsync(e => e.GetProperty("type").GetString() == "stats", TimeSpan.FromSeconds(10), Ct);
        List<JsonProperty> counters = [.. stats.GetProperty("refused").EnumerateObject()
            .Where(p => p.Name.StartsWith("memory.", StringComparison.Ordinal) || p.Name.StartsWith("stream.", StringComparison.Ordinal))];
        return new Stats(stats.GetProperty("memoryInUse").GetInt64(), stats.GetProperty("memoryBudget").GetInt64(),
            string.Join(", ", counters.Select(p => $"{p.Name} {p.Value.GetInt64()}")));
    }

    /// <summary>
    /// One wave: 64 identities dial through the forwarders (8 per source address), open 124 streams
    /// each and push into them; the target's RSS is sampled while they push; then they all leave.
    /// </summary>
    private static async Task<Wave> AttackAsync(List<NamespaceForwarder> routes, EchoChatProcess target, EchoChatProcess honest, bool chat)
    {
        PeerId targetId = PeerId.Parse(target.PeerId);
        List<Libp2pHost> hosts = [];
        using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        List<Task> pushes = [];
        int accepted = 0, refused = 0;
        long pushed = 0, peak = 0, budgetPeak = 0;
        TimeSpan? served = null;
        int socketsBefore = CountSockets(target.Pid);
        try
        {
            foreach (NamespaceForwarder route in routes)
            {
                for (int i = 0; i < ConnectionsPerAddress; i++)
                {
                    Libp2pHost host = new(KeyPair.Generate(), new HostOptions(), NullLoggerFactory.Instance);
                    hosts.Add(host);
                    await host.StartAsync(Ct);
                    await host.DialAsync(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{route.Port}/p2p/{target.PeerId}"), Ct);
                }
            }
            int connections = hosts.Count(h => h.GetConnection(targetId) is not null);
            // Identify answers and returns without reading what the stream brings: what the attacker
            // pushes stays unread, held by the target's receive windows until the stream goes.
            byte[] chunk = new byte[64 * 1024];
            foreach (Libp2pHost host in hosts)
            {
                for (int s = 0; s < StreamsPerConnection; s++)
                    pushes.Add(PushAsync(host));
            }

            async Task PushAsync(Libp2pHost host)
            {
                try
                {
                    P2PStream stream = await host.OpenStreamAsync(targetId, "/ipfs/id/1.0.0", stop.Token);
                    Interlocked.Increment(ref accepted);
                    for (int sent = 0; sent < PushBytesPerStream; sent += chunk.Length)
                    {
                        await stream.Output.WriteAsync(chunk, stop.Token);
                        Interlocked.Add(ref pushed, chunk.Length);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                }
                catch (Exception e) when (e is IOException or PeerNotConnectedException or ProtocolViolationException
                                              or OperationCanceledException or ObjectDisposedException)
                {
                    Interlocked.Increment(ref refused);
                }
            }

            // Sample while the pushes fill the windows: until no more bytes move for 3 s (at most 90 s).
            Stopwatch clock = Stopwatch.StartNew();
            long lastPushed = -1;
            Stopwatch still = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(90) && still.Elapsed < TimeSpan.FromSeconds(3))
            {
                peak = Math.Max(peak, RssBytes(target.Pid));
                Stats stats = await StatsAsync(target);
                budgetPeak = Math.Max(budgetPeak, stats.MemoryInUse);
                Assert.True(stats.MemoryInUse <= stats.MemoryBudget, $"the budget in use, {stats.MemoryInUse} bytes, is past the budget, {stats.MemoryBudget}");
                long now = Interlocked.Read(ref pushed);
                if (now != lastPushed)
                {
                    lastPushed = now;
                    still.Restart();
                }
                await Task.Delay(100, Ct);
            }
            if (chat)
                served = await HonestPeer.ConnectAndChatAsync(target, honest, Served, Ct);
            peak = Math.Max(peak, RssBytes(target.Pid));
            return new Wave(connections, Volatile.Read(ref accepted), Volatile.Read(ref refused), Interlocked.Read(ref pushed), peak, served,
                budgetPeak, await StatsAsync(target));
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(hosts.Select(h => h.DisposeAsync().AsTask()));
            await Task.WhenAll(pushes).WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
            // The target has seen every attacker leave (the honest peer's connection stays).
            using CancellationTokenSource gone = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            gone.CancelAfter(TimeSpan.FromSeconds(30));
            while (CountSockets(target.Pid) > socketsBefore + (chat ? 1 : 0))
                await Task.Delay(100, gone.Token);
        }
    }

    private static long RssBytes(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException($"no VmRSS for {pid}");
    }

    /// <summary>Sockets the target holds (its listener, its peers' connections).</summary>
    private static int CountSockets(int pid) =>
        Directory.GetFiles($"/proc/{pid}/fd").Count(fd =>
        {
            try
            {
                return new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true;
            }
            catch (IOException)
            {
                return false;
            }
        });

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024.0):0} MiB";

    private static async Task RunAsync(string[] command)
    {
        ProcessStartInfo start = new(command[0]) { RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in command[1..])
            start.ArgumentList.Add(arg);
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{command[0]} did not start");
        string error = await process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        Assert.True(process.ExitCode == 0, $"`{string.Join(' ', command)}` failed: {error}");
    }
}
