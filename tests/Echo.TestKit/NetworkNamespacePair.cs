using System.Diagnostics;

namespace Echo.TestKit;

/// <summary>
/// Two network namespaces joined by a veth pair (10.77.0.1/24 and fd77::1/64 in the first,
/// .2 and ::2 in the second) with no default route: a LAN of two hosts for mDNS tests. The names are
/// unique per pair; disposing deletes both namespaces (and with them the veth pair), also when
/// creation failed half way.
/// </summary>
public sealed class NetworkNamespacePair : IAsyncDisposable
{
    private static int s_counter;

    private NetworkNamespacePair(string tag)
    {
        First = $"echo-mdns-{tag}-a";
        Second = $"echo-mdns-{tag}-b";
        FirstInterface = $"em{tag}a";
        SecondInterface = $"em{tag}b";
    }

    public string First { get; }

    public string Second { get; }

    public string FirstInterface { get; }

    public string SecondInterface { get; }

    public const string FirstAddress = "10.77.0.1";
    public const string SecondAddress = "10.77.0.2";

    /// <summary>
    /// Returns when the tests can make namespaces (root and a working `ip netns`); otherwise skips,
    /// or fails under CI=true, where a skip would hide that nothing was tested.
    /// </summary>
    public static async Task RequireAsync(CancellationToken cancellationToken)
    {
        string? problem = !Environment.IsPrivilegedProcess
            ? "network namespace tests need root"
            : await RunAsync(["ip", "netns", "list"], cancellationToken) is { } error ? $"`ip netns` is not usable: {error}" : null;
        if (problem is null)
            return;
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail($"{problem} (CI=true, so this fails instead of skipping)");
        Assert.Skip(problem);
    }

    public static async Task<NetworkNamespacePair> CreateAsync(CancellationToken cancellationToken)
    {
        await RequireAsync(cancellationToken);
        string tag = $"{Environment.ProcessId % 100000:x}{Interlocked.Increment(ref s_counter):x}";
        NetworkNamespacePair pair = new(tag);
        try
        {
            string[][] steps =
            [
                ["ip", "netns", "add", pair.First],
                ["ip", "netns", "add", pair.Second],
                ["ip", "link", "add", pair.FirstInterface, "netns", pair.First, "type", "veth", "peer", "name", pair.SecondInterface,
                    "netns", pair.Second],
                ["ip", "-n", pair.First, "addr", "add", FirstAddress + "/24", "dev", pair.FirstInterface],
                ["ip", "-n", pair.Second, "addr", "add", SecondAddress + "/24", "dev", pair.SecondInterface],
                ["ip", "-n", pair.First, "-6", "addr", "add", "fd77::1/64", "dev", pair.FirstInterface, "nodad"],
                ["ip", "-n", pair.Second, "-6", "addr", "add", "fd77::2/64", "dev", pair.SecondInterface, "nodad"],
                ["ip", "-n", pair.First, "link", "set", "lo", "up"],
                ["ip", "-n", pair.Second, "link", "set", "lo", "up"],
                ["ip", "-n", pair.First, "link", "set", pair.FirstInterface, "up"],
                ["ip", "-n", pair.Second, "link", "set", pair.SecondInterface, "up"],
            ];
            foreach (string[] step in steps)
            {
                if (await RunAsync(step, cancellationToken) is { } error)
                    throw new InvalidOperationException($"`{string.Join(' ', step)}` failed: {error}");
            }
            return pair;
        }
        catch
        {
            await pair.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs a command inside <paramref name="netns"/>; throws with its stderr when it fails.</summary>
    public static async Task ExecAsync(string netns, IEnumerable<string> command, CancellationToken cancellationToken)
    {
        string[] full = ["ip", "netns", "exec", netns, .. command];
        if (await RunAsync(full, cancellationToken) is { } error)
            throw new InvalidOperationException($"`{string.Join(' ', full)}` failed: {error}");
    }

    /// <summary>Null when the command succeeded, else what went wrong.</summary>
    public static async Task<string?> RunAsync(string[] command, CancellationToken cancellationToken) =>
        (await RunForOutputAsync(command, cancellationToken)).Error;

    /// <summary>The command's stdout, and null or what went wrong.</summary>
    public static async Task<(string? Error, string Output)> RunForOutputAsync(string[] command, CancellationToken cancellationToken)
    {
        ProcessStartInfo start = new(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in command[1..])
            start.ArgumentList.Add(arg);
        try
        {
            using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{command[0]} did not start");
            Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(20), cancellationToken);
            string output = await stdout;
            string error = (await stderr).Trim();
            return (process.ExitCode == 0 ? null : $"exit code {process.ExitCode}: {error}", output);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or TimeoutException)
        {
            return (e.Message, "");
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Deleting a namespace deletes the veth end inside it, and with it the pair.
        await RunAsync(["ip", "netns", "delete", First], CancellationToken.None);
        await RunAsync(["ip", "netns", "delete", Second], CancellationToken.None);
    }
}
