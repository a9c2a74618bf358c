using System.Diagnostics;

namespace Echo.Interop.Tests;

/// <summary>
/// Interop tests need node (20 or newer) and the peer's installed node_modules. Without them a test
/// skips with the reason on a developer machine, and fails under CI (CI=true), where a skip would
/// hide that nothing was tested.
/// </summary>
public static class NodeRequirement
{
    private const int MinimumNodeMajor = 20;
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(15);
    private static readonly Lazy<Task<string?>> Problem = new(FindProblemAsync);

    /// <summary>Returns when node and the peer are usable; otherwise skips (or, under CI, fails) the test.</summary>
    public static async Task EnsureAvailableAsync(CancellationToken cancellationToken)
    {
        string? problem = await Problem.Value.WaitAsync(cancellationToken);
        if (problem is null)
            return;
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail($"{problem} (CI=true, so this fails instead of skipping)");
        Assert.Skip(problem);
    }

    private static async Task<string?> FindProblemAsync()
    {
        string directory;
        try
        {
            directory = JsPeer.FindDirectory();
        }
        catch (DirectoryNotFoundException e)
        {
            return $"js interop peer not found: {e.Message}";
        }
        if (!Directory.Exists(Path.Combine(directory, "node_modules", "libp2p")))
            return $"js interop peer is not installed: no node_modules in {directory}; run `bash scripts/test-setup.sh`";

        string version;
        try
        {
            ProcessStartInfo startInfo = new("node", "--version")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using Process node = Process.Start(startInfo) ?? throw new InvalidOperationException("Process.Start returned null");
            using CancellationTokenSource timeout = new(ProbeTimeout);
            Task<string> output = node.StandardOutput.ReadToEndAsync(timeout.Token);
            await node.WaitForExitAsync(timeout.Token);
            version = (await output).Trim();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or OperationCanceledException)
        {
            return $"node is not usable: `node --version` failed ({e.Message}); install Node.js {MinimumNodeMajor} or newer";
        }

        // "v20.20.2"
        string major = version.TrimStart('v').Split('.')[0];
        if (!int.TryParse(major, out int majorVersion) || majorVersion < MinimumNodeMajor)
            return $"node {version} is too old; the js interop peer needs Node.js {MinimumNodeMajor} or newer";
        return null;
    }
}
