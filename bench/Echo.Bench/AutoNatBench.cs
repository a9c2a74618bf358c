using System.Diagnostics;
using System.Globalization;
using System.Net;
using Echo.Net.AutoNat;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Bench;

/// <summary>
/// AutoNAT server cost per check, on loopback in one process: a v2 check on the requester's IP (dial
/// back only), one on another IP (30 kB of dial data first), and a request refused by the rate limit.
/// The CPU figure is the whole process's (client, server and the dial-back handshake on both ends),
/// so it is an upper bound on what the server spends.
/// </summary>
internal static class AutoNatBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        bool quick = args.Contains("--quick");
        int checks = quick ? 50 : 300;
        Console.WriteLine($"# AutoNAT run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores{(quick ? " (quick)" : "")}");
        static bool Loopback(Multiaddr a) => AutoNatAddresses.IpOf(a) is { } ip && IPAddress.IsLoopback(ip);
        AutoNatOptions serving = new()
        {
            IsPublic = Loopback,
            ServerMode = AutoNatServerMode.On,
            Candidates = () => [],
            GlobalChecksPerMinute = int.MaxValue,
            PeerChecksPerMinute = int.MaxValue,
            MinDialDataBytes = 30_000,
            MaxDialDataBytes = 30_000,
        };
        await using Libp2pHost server = await StartAsync(serving, "/ip4/127.0.0.1/tcp/0");
        await using Libp2pHost throttled = await StartAsync(serving with { PeerChecksPerMinute = 1 }, "/ip4/127.0.0.1/tcp/0");
        await using Libp2pHost client = await StartAsync(new AutoNatOptions { IsPublic = Loopback, Candidates = () => [] },
            "/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/0");
        Connection toServer = await client.DialAsync(server.ListenAddresses[0].WithPeerId(server.PeerId), CancellationToken.None);
        Connection toThrottled = await client.DialAsync(throttled.ListenAddresses[0].WithPeerId(throttled.PeerId), CancellationToken.None);
        Multiaddr v4 = client.ListenAddresses.First(a => AutoNatAddresses.IpOf(a)!.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
        Multiaddr v6 = client.ListenAddresses.First(a => AutoNatAddresses.IpOf(a)!.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6);
        AutoNatClient autoNat = client.AutoNat!.Client;

        await MeasureAsync("v2 check, same IP (dial back)", checks, () => autoNat.CheckAsync(toServer, [v4], CancellationToken.None),
            AutoNatOutcome.Reachable);
        await MeasureAsync("v2 check, other IP (30 kB dial data + dial back)", checks,
            () => autoNat.CheckAsync(toServer, [v6], CancellationToken.None), AutoNatOutcome.Reachable);
        await autoNat.CheckAsync(toThrottled, [v4], CancellationToken.None);
        await MeasureAsync("v2 request refused by the rate limit", checks * 4,
            () => autoNat.CheckAsync(toThrottled, [v4], CancellationToken.None), AutoNatOutcome.Rejected);
        return 0;
    }

    private static async Task<Libp2pHost> StartAsync(AutoNatOptions autoNat, params string[] listen)
    {
        Libp2pHost host = new(KeyPair.Generate(), new HostOptions
        {
            ListenAddresses = [.. listen.Select(Multiaddr.Parse)],
            EnableAutoNat = true,
            AutoNat = autoNat,
        }, NullLoggerFactory.Instance);
        await host.StartAsync(CancellationToken.None);
        return host;
    }

    private static async Task MeasureAsync(string name, int count, Func<Task<AutoNatCheck>> check, AutoNatOutcome expected)
    {
        for (int i = 0; i < Math.Max(5, count / 10); i++)
            await check();
        Process self = Process.GetCurrentProcess();
        self.Refresh();
        TimeSpan cpu = self.TotalProcessorTime;
        Stopwatch wall = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            AutoNatCheck result = await check();
            if (result.Outcome != expected)
                throw new InvalidOperationException($"{name}: {result.Outcome} ({result.Reason}), expected {expected}");
        }
        wall.Stop();
        self.Refresh();
        double cpuMicros = (self.TotalProcessorTime - cpu).TotalMicroseconds / count;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {count} checks, {wall.Elapsed.TotalMilliseconds / count:0.00} ms each, {cpuMicros:0} µs CPU each (both ends)"));
    }
}
