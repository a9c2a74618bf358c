using System.Diagnostics;
using System.Globalization;

namespace Echo.SystemTests;

/// <summary>A detached tmux session running one command in a real terminal; killed on dispose.</summary>
internal sealed class TmuxSession : IAsyncDisposable
{
    private TmuxSession(string name) => Name = name;

    public string Name { get; }

    public static bool Available => File.Exists("/usr/bin/tmux") || File.Exists("/usr/local/bin/tmux");

    /// <summary>Skips the test without tmux, except under CI, where scripts/test-setup.sh installs it and its absence fails.</summary>
    public static void Require()
    {
        Assert.SkipUnless(Available || Environment.GetEnvironmentVariable("CI") == "true",
            "tmux is not installed (scripts/test-setup.sh installs it when run as root)");
        Assert.True(Available, "tmux is required under CI (scripts/test-setup.sh installs it)");
    }

    /// <summary>A loopback TCP port free now, for the chat a session runs to listen on.</summary>
    public static int FreePort()
    {
        using System.Net.Sockets.TcpListener probe = new(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        return ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
    }

    public static async Task<TmuxSession> StartAsync(string name, string shellCommand, int width = 140, int height = 40)
    {
        TmuxSession session = new($"echo-test-{Environment.ProcessId}-{name}");
        await RunAsync("new-session", "-d", "-s", session.Name, "-x", width.ToString(CultureInfo.InvariantCulture), "-y", height.ToString(CultureInfo.InvariantCulture), shellCommand);
        return session;
    }

    /// <summary>Types <paramref name="text"/> literally, then Enter.</summary>
    public async Task TypeLineAsync(string text)
    {
        await RunAsync("send-keys", "-t", Name, "-l", text);
        await RunAsync("send-keys", "-t", Name, "Enter");
    }

    public Task SendKeysAsync(params string[] keys) => RunAsync(["send-keys", "-t", Name, .. keys]);

    public Task<string> CaptureAsync() => RunAsync("capture-pane", "-p", "-t", Name);

    /// <summary>Waits until the session is gone (its program exited); throws on timeout.</summary>
    public async Task WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Stopwatch clock = Stopwatch.StartNew();
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(100));
        while (clock.Elapsed < timeout)
        {
            try
            {
                await RunAsync("has-session", "-t", Name);
            }
            catch (InvalidOperationException)
            {
                return;   // no such session: the program ended
            }
            await poll.WaitForNextTickAsync(cancellationToken);
        }
        throw new TimeoutException($"session {Name} still runs after {timeout}");
    }

    /// <summary>The column of the terminal's cursor (0-based).</summary>
    public async Task<int> CursorColumnAsync() =>
        int.Parse((await RunAsync("display-message", "-p", "-t", Name, "#{cursor_x}")).Trim(), CultureInfo.InvariantCulture);

    /// <summary>The process the pane runs (the command, when it was started with exec).</summary>
    public async Task<int> PanePidAsync() =>
        int.Parse((await RunAsync("display-message", "-p", "-t", Name, "#{pane_pid}")).Trim(), CultureInfo.InvariantCulture);

    /// <summary>Copies everything the pane's program writes to <paramref name="path"/> from now on (tmux pipe-pane).</summary>
    public Task PipeOutputToAsync(string path) => RunAsync("pipe-pane", "-o", "-t", Name, $"cat >> '{path}'");

    /// <summary>Polls the screen until <paramref name="condition"/> holds; throws with the last screen on timeout.</summary>
    public async Task<string> WaitForScreenAsync(Func<string, bool> condition, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Stopwatch clock = Stopwatch.StartNew();
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(100));
        string screen = "";
        while (clock.Elapsed < timeout)
        {
            screen = await CaptureAsync();
            if (condition(screen))
                return screen;
            await poll.WaitForNextTickAsync(cancellationToken);
        }
        throw new TimeoutException($"screen of {Name} did not match within {timeout}; last screen:\n{screen}");
    }

    /// <summary>
    /// Runs tmux on a server of this test process's own (<c>-L</c>), not the user's. That server exits
    /// when its last session ends; a command that reaches it in that instant gets "server exited
    /// unexpectedly" and is run again (a new server starts).
    /// </summary>
    private static async Task<string> RunAsync(params string[] args)
    {
        for (int attempt = 1; ; attempt++)
        {
            ProcessStartInfo start = new("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string arg in (string[])["-L", Socket, .. args])
                start.ArgumentList.Add(arg);
            using Process process = Process.Start(start)!;
            string output = await process.StandardOutput.ReadToEndAsync();
            string error = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode == 0)
                return output;
            if (attempt < 3 && error.Contains("server exited unexpectedly", StringComparison.Ordinal))
                continue;
            throw new InvalidOperationException($"tmux {string.Join(' ', args)}: {error}");
        }
    }

    private static readonly string Socket = $"echo-test-{Environment.ProcessId}";

    public async ValueTask DisposeAsync()
    {
        try
        {
            await RunAsync("kill-session", "-t", Name);
        }
        catch (InvalidOperationException)
        {
            // already gone (the app quit and the session ended with it)
        }
    }
}
