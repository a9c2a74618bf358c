using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Echo.Bench;

/// <summary>
/// The chat app as a user meets it, measured on the real `echo-chat` executable: time from start to
/// ready (headless), time from a line typed into one node to its display on another (p50/p99), and
/// the CPU an idle TUI uses. Prints a Markdown report.
/// </summary>
internal static class ChatBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        bool quick = args.Contains("--quick");
        string echoChat = FindEchoChat();
        Console.WriteLine($"# Chat app run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores{(quick ? " (quick)" : "")}");
        Console.WriteLine();

        // Start to ready: a fresh data directory (new identity) and a restart (key on disk).
        int starts = quick ? 5 : 20;
        List<double> fresh = [], restart = [];
        for (int i = 0; i < starts; i++)
        {
            string dir = Directory.CreateTempSubdirectory("echo-bench-").FullName;
            try
            {
                fresh.Add(await TimeToReadyAsync(echoChat, dir));
                restart.Add(await TimeToReadyAsync(echoChat, dir));
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        Console.WriteLine($"## `echo-chat --headless` start to `ready`, {starts} runs, ms");
        Console.WriteLine();
        Console.WriteLine("| | p50 | p99 |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine($"| new identity | {Percentile(fresh, 50):F0} | {Percentile(fresh, 99):F0} |");
        Console.WriteLine($"| existing identity | {Percentile(restart, 50):F0} | {Percentile(restart, 99):F0} |");

        // Send to display: typed into alice's stdin, shown on bob's stdout, both seen by this process.
        int messages = quick ? 200 : 1000;
        double rate = 50;
        List<double> latency = await SendToDisplayAsync(echoChat, messages, rate);
        Console.WriteLine();
        Console.WriteLine($"## Send to display, alice → bob, {messages} messages at {rate:F0}/s, ms");
        Console.WriteLine();
        Console.WriteLine("| p50 | p99 | max | delivered |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine($"| {Percentile(latency, 50):F2} | {Percentile(latency, 99):F2} | {latency.Max():F2} | {latency.Count}/{messages} |");

        // Idle CPU: a TUI and the headless peer it is connected to, side by side over the same window.
        int idleSeconds = quick ? 10 : 60;
        if (await IdleCpuAsync(echoChat, TimeSpan.FromSeconds(idleSeconds)) is { } idle)
        {
            Console.WriteLine();
            Console.WriteLine($"## Idle, side by side (TUI under tmux connected to a headless node, {idleSeconds} s)");
            Console.WriteLine();
            Console.WriteLine("| TUI CPU | headless CPU | TUI bytes to the terminal per second |");
            Console.WriteLine("|---|---|---|");
            Console.WriteLine($"| {idle.Tui:P2} of one core | {idle.Headless:P2} of one core | {idle.TerminalBytesPerSecond:F0} |");
        }
        return 0;
    }

    private static async Task<double> TimeToReadyAsync(string echoChat, string dataDir)
    {
        Stopwatch clock = Stopwatch.StartNew();
        await using HeadlessNode node = HeadlessNode.Start(echoChat, "bench", dataDir, []);
        await node.NextAsync("ready", _ => true, TimeSpan.FromSeconds(60));
        return clock.Elapsed.TotalMilliseconds;
    }

    private static async Task<List<double>> SendToDisplayAsync(string echoChat, int count, double rate)
    {
        string aliceDir = Directory.CreateTempSubdirectory("echo-bench-").FullName;
        string bobDir = Directory.CreateTempSubdirectory("echo-bench-").FullName;
        try
        {
            await using HeadlessNode alice = HeadlessNode.Start(echoChat, "alice", aliceDir, []);
            JsonElement ready = await alice.NextAsync("ready", _ => true, TimeSpan.FromSeconds(60));
            string address = ready.GetProperty("addrs")[0].GetString()!;
            await using HeadlessNode bob = HeadlessNode.Start(echoChat, "bob", bobDir, ["--connect", address]);
            await bob.NextAsync("ready", _ => true, TimeSpan.FromSeconds(60));
            // Until subscriptions are exchanged a message is not heard: probe until bob hears one.
            for (int probe = 0; ; probe++)
            {
                await alice.SendAsync($"probe {probe}");
                try
                {
                    await bob.NextAsync("message", m => m.GetProperty("text").GetString()!.StartsWith("probe", StringComparison.Ordinal),
                        TimeSpan.FromMilliseconds(500));
                    break;
                }
                catch (TimeoutException) when (probe < 60)
                {
                }
            }
            Dictionary<string, long> sentAt = [];
            List<double> latency = [];
            Task receiver = Task.Run(async () =>
            {
                while (latency.Count < count)
                {
                    JsonElement m = await bob.NextAsync("message", m => m.GetProperty("text").GetString()!.StartsWith("m ", StringComparison.Ordinal),
                        TimeSpan.FromSeconds(30));
                    long now = Stopwatch.GetTimestamp();
                    lock (sentAt)
                        latency.Add(Stopwatch.GetElapsedTime(sentAt[m.GetProperty("text").GetString()!], now).TotalMilliseconds);
                }
            });
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < count; i++)
            {
                TimeSpan due = TimeSpan.FromSeconds(i / rate) - Stopwatch.GetElapsedTime(start);
                if (due > TimeSpan.Zero)
                    await Task.Delay(due);
                string text = $"m {i}";
                lock (sentAt)
                    sentAt[text] = Stopwatch.GetTimestamp();
                await alice.SendAsync(text);
            }
            try
            {
                await receiver.WaitAsync(TimeSpan.FromSeconds(60));
            }
            catch (TimeoutException)
            {
            }
            lock (sentAt)
                return [.. latency];
        }
        finally
        {
            Directory.Delete(aliceDir, recursive: true);
            Directory.Delete(bobDir, recursive: true);
        }
    }

    /// <summary>
    /// CPU shares of a TUI sitting idle in a tmux session and of the headless node it is connected
    /// to, over the same window, and what the TUI writes to its terminal meanwhile; null without tmux.
    /// </summary>
    private static async Task<(double Tui, double Headless, double TerminalBytesPerSecond)?> IdleCpuAsync(string echoChat, TimeSpan window)
    {
        if (!File.Exists("/usr/bin/tmux"))
        {
            Console.WriteLine("(tmux not installed: idle TUI CPU not measured)");
            return null;
        }
        string tuiDir = Directory.CreateTempSubdirectory("echo-bench-").FullName;
        string peerDir = Directory.CreateTempSubdirectory("echo-bench-").FullName;
        string session = $"echo-bench-{Environment.ProcessId}";
        string output = Path.Combine(tuiDir, "terminal-output");
        try
        {
            await using HeadlessNode peer = HeadlessNode.Start(echoChat, "peer", peerDir, []);
            string address = (await peer.NextAsync("ready", _ => true, TimeSpan.FromSeconds(60))).GetProperty("addrs")[0].GetString()!;
            await Run("tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
                $"exec dotnet {echoChat} --no-mdns --name tui --listen /ip4/127.0.0.1/tcp/0 --data-dir {tuiDir} --connect {address}");
            int pid = int.Parse((await Run("tmux", "list-panes", "-t", session, "-F", "#{pane_pid}")).Trim(), CultureInfo.InvariantCulture);
            await peer.NextAsync("peer", p => p.GetProperty("event").GetString() == "connected", TimeSpan.FromSeconds(60));
            await Task.Delay(TimeSpan.FromSeconds(3)); // let start-up work (JIT, first paint) finish
            await Run("tmux", "pipe-pane", "-o", "-t", session, $"cat > '{output}'");
            double tuiBefore = CpuSeconds(pid);
            double peerBefore = CpuSeconds(peer.Pid);
            Stopwatch clock = Stopwatch.StartNew();
            await Task.Delay(window);
            double seconds = clock.Elapsed.TotalSeconds;
            double tui = (CpuSeconds(pid) - tuiBefore) / seconds;
            double headless = (CpuSeconds(peer.Pid) - peerBefore) / seconds;
            await Run("tmux", "pipe-pane", "-t", session); // stops the copy
            long written = File.Exists(output) ? new FileInfo(output).Length : 0;
            return (tui, headless, written / seconds);
        }
        finally
        {
            await Run("tmux", "kill-session", "-t", session);
            File.Delete(output);
            Directory.Delete(tuiDir, recursive: true);
            Directory.Delete(peerDir, recursive: true);
        }
    }

    /// <summary>utime + stime of a process, from /proc/&lt;pid&gt;/stat, in seconds.</summary>
    private static double CpuSeconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0; // clock ticks (USER_HZ = 100)
    }

    private static async Task<string> Run(string file, params string[] args)
    {
        ProcessStartInfo start = new(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        using Process process = Process.Start(start)!;
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output;
    }

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
            return double.NaN;
        List<double> sorted = [.. values.Order()];
        return sorted[(int)Math.Clamp(Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private static string FindEchoChat()
    {
        DirectoryInfo? dir = new(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Echo.slnx")))
            dir = dir.Parent;
        string path = Path.Combine(dir?.FullName ?? ".", "src", "Echo.Cli", "bin", "Release", "net10.0", "echo-chat.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("build echo-chat first: dotnet build src/Echo.Cli -c Release", path);
    }

    /// <summary>An `echo-chat --headless` process and its JSON events.</summary>
    private sealed class HeadlessNode : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly System.Threading.Channels.Channel<JsonElement> _events =
            System.Threading.Channels.Channel.CreateUnbounded<JsonElement>();

        /// <summary>The node's process id.</summary>
        public int Pid => _process.Id;

        private HeadlessNode(Process process)
        {
            _process = process;
            _ = Task.Run(PumpAsync);
        }

        private async Task PumpAsync()
        {
            // One reader owns stdout; waits with timeouts happen on the channel, never on the pipe.
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
                _events.Writer.TryWrite(JsonDocument.Parse(line).RootElement.Clone());
            _events.Writer.TryComplete();
        }

        public static HeadlessNode Start(string echoChat, string name, string dataDir, string[] extra)
        {
            ProcessStartInfo start = new("dotnet")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (string arg in (string[])[echoChat, "--headless", "--no-mdns", "--name", name, "--listen", "/ip4/127.0.0.1/tcp/0",
                         "--data-dir", dataDir, .. extra])
                start.ArgumentList.Add(arg);
            Process process = Process.Start(start)!;
            process.ErrorDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            return new HeadlessNode(process);
        }

        public async Task SendAsync(string line)
        {
            await _process.StandardInput.WriteLineAsync(line);
            await _process.StandardInput.FlushAsync();
        }

        public async Task<JsonElement> NextAsync(string type, Func<JsonElement, bool> match, TimeSpan timeout)
        {
            using CancellationTokenSource limit = new(timeout);
            try
            {
                while (true)
                {
                    JsonElement e = await _events.Reader.ReadAsync(limit.Token);
                    if (e.GetProperty("type").GetString() == type && match(e))
                        return e;
                }
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no {type} event within {timeout}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                using CancellationTokenSource grace = new(TimeSpan.FromSeconds(10));
                try
                {
                    await _process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
            _process.Dispose();
        }
    }
}
