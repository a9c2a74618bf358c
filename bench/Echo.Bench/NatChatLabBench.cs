using System.Diagnostics;
using System.Globalization;
using Echo.TestKit.Lab;

namespace Echo.Bench;

/// <summary>
/// Two NATed users who know only a room name, N times in the NAT lab (tests/Echo.TestKit/Lab, needs
/// root, iptables and node with the lab's js packages): the flow of <see cref="NatChatFlow"/> (3 js
/// Kademlia servers, the first also the circuit relay; alice behind router A, bob behind router B;
/// reservation, first messages, hole punch, every message once). Each run uses a fresh room, fresh
/// identities and a fresh listen port, and a fresh lab every 7 runs (js's relay holds 15 reservations
/// until they expire). Reported: start to both showing the other's first
/// message and first message to both reporting the other <c>via: direct</c> (p50/p99), and how many
/// runs succeeded, with why the others failed.
/// </summary>
internal static class NatChatLabBench
{
    private const int RunsPerLab = 7;

    public static async Task<int> RunAsync(string[] args)
    {
        int runs = 20;
        int at = Array.IndexOf(args, "--runs");
        if (at >= 0 && (at + 1 >= args.Length || !int.TryParse(args[at + 1], CultureInfo.InvariantCulture, out runs) || runs < 1))
        {
            Console.Error.WriteLine("--runs needs a positive number");
            return 2;
        }
        using CancellationTokenSource limit = new(TimeSpan.FromMinutes(10 + (3 * runs)));
        CancellationToken ct = limit.Token;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# Two NATed users in one room, NAT lab, run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {runs} runs"));
        Console.WriteLine();
        List<double> toFirst = [], toDirect = [];
        List<string> failures = [];
        // js's relay keeps a reservation until it expires, and holds 15: a fresh lab every 7 runs
        // (two reservations a run), so that a full relay does not fail the runs after it.
        for (int first = 0; first < runs; first += RunsPerLab)
        {
            NatLab lab;
            try
            {
                lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 3 }, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
            {
                Console.WriteLine($"The NAT lab cannot be built here: {e.Message}");
                return 1;
            }
            await using NatLab owned = lab;
            for (int run = first; run < Math.Min(runs, first + RunsPerLab); run++)
            {
                DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-nat-chat-bench-");
                Stopwatch clock = Stopwatch.StartNew();
                try
                {
                    NatChatTimings timings = await NatChatFlow.RunAsync(lab, string.Create(CultureInfo.InvariantCulture, $"natroom-{run}"),
                        logs.FullName, ct, port: 4101 + run);
                    toFirst.Add(timings.FirstMessage.TotalMilliseconds);
                    toDirect.Add(timings.FirstMessageToDirect.TotalMilliseconds);
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"run {run + 1}: first message {timings.FirstMessage.TotalMilliseconds:0} ms, then direct {timings.FirstMessageToDirect.TotalMilliseconds:0} ms"));
                    logs.Delete(recursive: true);
                }
                catch (Exception e) when (e is TimeoutException or InvalidOperationException)
                {
                    string reason = e.Message.Split('\n')[0];
                    failures.Add(string.Create(CultureInfo.InvariantCulture, $"run {run + 1} ({clock.Elapsed.TotalSeconds:0} s): {reason}"));
                    Console.Error.WriteLine($"run {run + 1} failed: {reason}; logs kept in {logs.FullName}");
                }
            }
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{toFirst.Count} of {runs} runs succeeded."));
        Console.WriteLine();
        Console.WriteLine("| interval | p50 ms | p99 ms | max ms |");
        Console.WriteLine("|---|---|---|---|");
        Row("start to both showing the other's first message", toFirst);
        Row("first message to both reporting the other via direct", toDirect);
        foreach (string failure in failures)
            Console.WriteLine($"- failed: {failure}");
        return failures.Count == 0 ? 0 : 1;
    }

    private static void Row(string what, List<double> values) =>
        Console.WriteLine(values.Count == 0
            ? $"| {what} | - | - | - |"
            : string.Create(CultureInfo.InvariantCulture, $"| {what} | {Percentile(values, 50):F0} | {Percentile(values, 99):F0} | {values.Max():F0} |"));

    private static double Percentile(List<double> values, double p)
    {
        List<double> sorted = [.. values.Order()];
        return sorted[(int)Math.Clamp(Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }
}
