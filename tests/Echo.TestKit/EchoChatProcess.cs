using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;

namespace Echo.TestKit;

/// <summary>
/// One `echo-chat --headless` process: its JSON events on a channel, its stdin for lines, and a
/// private data directory removed at the end. Disposing closes stdin and kills it if it lingers.
/// </summary>
public sealed class EchoChatProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<JsonElement> _events = Channel.CreateUnbounded<JsonElement>();
    private readonly List<string> _stderr = [];
    private readonly Task _stdoutPump;
    private readonly bool _ownsDataDirectory;
    private int _disposed;

    private EchoChatProcess(Process process, string dataDirectory, bool ownsDataDirectory)
    {
        _process = process;
        DataDirectory = dataDirectory;
        _ownsDataDirectory = ownsDataDirectory;
        _stdoutPump = PumpAsync();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (_stderr)
                    _stderr.Add(e.Data);
        };
        process.BeginErrorReadLine();
    }

    public string DataDirectory { get; }

    public int ProcessId => _process.Id;

    public string PeerId { get; private set; } = "";

    public IReadOnlyList<string> Addresses { get; private set; } = [];

    public string Address => Addresses[0];

    public int Pid => _process.Id;

    public string StandardError
    {
        get { lock (_stderr) return string.Join('\n', _stderr); }
    }

    /// <summary>The checkout the tests run from (the first ancestor of the test build holding Echo.slnx).</summary>
    public static string RepositoryRoot
    {
        get
        {
            DirectoryInfo? root = new(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Echo.slnx")))
                root = root.Parent;
            return root?.FullName ?? throw new InvalidOperationException("repository root not found");
        }
    }

    /// <summary>The echo-chat build next to this test build (same configuration).</summary>
    public static string ExecutablePath
    {
        get
        {
            string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
            string path = Path.Combine(RepositoryRoot, "src", "Echo.Cli", "bin", configuration, "net10.0", "echo-chat.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("echo-chat is not built", path);
        }
    }

    /// <summary>
    /// Starts a headless node and waits for its ready line. By default it listens on 127.0.0.1 with
    /// mDNS off; <paramref name="networkNamespace"/> runs it in that namespace (`ip netns exec`);
    /// <paramref name="environment"/> adds or replaces environment variables (LANG, LC_ALL…);
    /// <paramref name="openFiles"/> starts it with that <c>RLIMIT_NOFILE</c> (soft and hard, through prlimit);
    /// <paramref name="wrapper"/> runs it under that command (e.g. <c>strace -f -o FILE</c>), inside the namespace.
    /// </summary>
    public static async Task<EchoChatProcess> StartAsync(string name, IEnumerable<string> extraArgs, CancellationToken cancellationToken,
        string? dataDirectory = null, string? networkNamespace = null, bool mdns = false, string listen = "/ip4/127.0.0.1/tcp/0",
        IReadOnlyDictionary<string, string>? environment = null, int? openFiles = null, IReadOnlyList<string>? wrapper = null)
    {
        if (wrapper is { Count: > 0 } && openFiles is not null)
            throw new ArgumentException("a wrapper command and openFiles cannot be combined", nameof(wrapper));
        bool owns = dataDirectory is null;
        dataDirectory ??= Directory.CreateTempSubdirectory("echo-cli-test-").FullName;
        ProcessStartInfo start = new(openFiles is not null ? "prlimit" : networkNamespace is not null ? "ip" : wrapper is { Count: > 0 } ? wrapper[0] : "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
            start.Environment[key] = value;
        string[] prefix = networkNamespace is null
            ? wrapper is { Count: > 0 } ? [.. wrapper.Skip(1), "dotnet"] : []
            : ["netns", "exec", networkNamespace, .. wrapper ?? [], "dotnet"];
        if (openFiles is { } limit)
            prefix = [$"--nofile={limit}:{limit}", "--", .. networkNamespace is null ? (string[])["dotnet"] : ["ip", .. prefix]];
        // Downloads go inside the data directory unless the test names a folder: a download left waiting
        // (resumable, recorded in its folder) must not be taken up by another test's node.
        string[] args = [.. extraArgs];
        string[] downloads = args.Contains("--downloads") ? [] : ["--downloads", Path.Combine(dataDirectory, "downloads")];
        foreach (string arg in (string[])[.. prefix, ExecutablePath, "--headless", .. (mdns ? (string[])[] : ["--no-mdns"]), "--name", name,
                     "--listen", listen, "--data-dir", dataDirectory, .. downloads, .. args])
            start.ArgumentList.Add(arg);
        Process process = Process.Start(start) ?? throw new InvalidOperationException("echo-chat did not start");
        EchoChatProcess chat = new(process, dataDirectory, owns);
        try
        {
            JsonElement ready = await chat.NextAsync(e => e.GetProperty("type").GetString() == "ready", TimeSpan.FromSeconds(30),
                cancellationToken);
            chat.PeerId = ready.GetProperty("peerId").GetString()!;
            chat.Addresses = [.. ready.GetProperty("addrs").EnumerateArray().Select(a => a.GetString()!)];
            return chat;
        }
        catch
        {
            await chat.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs echo-chat with <paramref name="args"/> and no input until it exits; returns its exit code and stderr.</summary>
    public static async Task<(int ExitCode, string StandardError)> RunToExitAsync(IEnumerable<string> args, CancellationToken cancellationToken)
    {
        (int exit, _, string stderr) = await RunWithOutputAsync(args, cancellationToken);
        return (exit, stderr);
    }

    /// <summary>Runs echo-chat with <paramref name="args"/> and no input until it exits; returns its exit code, stdout and stderr.</summary>
    public static async Task<(int ExitCode, string StandardOutput, string StandardError)> RunWithOutputAsync(IEnumerable<string> args,
        CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null)
    {
        ProcessStartInfo start = new("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
            start.Environment[key] = value;
        start.ArgumentList.Add(ExecutablePath);
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("echo-chat did not start");
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    public async Task SendLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>The next event matching <paramref name="match"/>, skipping others; throws on timeout with stderr attached.</summary>
    public async Task<JsonElement> NextAsync(Func<JsonElement, bool> match, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            while (true)
            {
                JsonElement next = await _events.Reader.ReadAsync(limit.Token);
                if (match(next))
                    return next;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no matching event within {timeout}; stderr:\n{StandardError}");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"echo-chat exited ({ExitCodeText()}); stderr:\n{StandardError}");
        }
    }

    /// <summary>Waits for a message event with <paramref name="text"/>.</summary>
    public Task<JsonElement> MessageAsync(string text, CancellationToken cancellationToken, string? room = null) =>
        NextAsync(e => e.GetProperty("type").GetString() == "message" && e.GetProperty("text").GetString() == text
                       && (room is null || e.GetProperty("room").GetString() == room), TimeSpan.FromSeconds(20), cancellationToken);

    /// <summary>
    /// Waits until a message event has arrived for each of <paramref name="texts"/>, in any order
    /// (messages of different rooms may overtake each other), and returns them by text.
    /// </summary>
    public async Task<Dictionary<string, JsonElement>> MessagesAsync(IReadOnlyCollection<string> texts, CancellationToken cancellationToken)
    {
        Dictionary<string, JsonElement> found = [];
        while (found.Count < texts.Count)
        {
            JsonElement e = await NextAsync(e => e.GetProperty("type").GetString() == "message"
                                                 && texts.Contains(e.GetProperty("text").GetString()!)
                                                 && !found.ContainsKey(e.GetProperty("text").GetString()!),
                TimeSpan.FromSeconds(20), cancellationToken);
            found[e.GetProperty("text").GetString()!] = e;
        }
        return found;
    }

    /// <summary>Waits for a peer event about <paramref name="peerId"/>.</summary>
    public Task<JsonElement> PeerEventAsync(string change, string peerId, CancellationToken cancellationToken) =>
        NextAsync(e => e.GetProperty("type").GetString() == "peer" && e.GetProperty("event").GetString() == change
                       && e.GetProperty("peerId").GetString() == peerId, TimeSpan.FromSeconds(20), cancellationToken);

    /// <summary>Every event received so far and not yet consumed, without waiting.</summary>
    public List<JsonElement> Drain()
    {
        List<JsonElement> all = [];
        while (_events.Reader.TryRead(out JsonElement e))
            all.Add(e);
        return all;
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken).WaitAsync(timeout, cancellationToken);
        return _process.ExitCode;
    }

    private string ExitCodeText() => _process.HasExited ? $"exit code {_process.ExitCode}" : "still running";

    private async Task PumpAsync()
    {
        try
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                JsonElement parsed;
                try
                {
                    parsed = JsonDocument.Parse(line).RootElement.Clone();
                }
                catch (JsonException e)
                {
                    _events.Writer.TryComplete(new InvalidDataException($"stdout line is not JSON: {line}", e));
                    return;
                }
                _events.Writer.TryWrite(parsed);
            }
        }
        finally
        {
            _events.Writer.TryComplete();
        }
    }

    /// <summary>Stops the process (stdin closed, killed if it lingers); a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        try
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
                    await _process.WaitForExitAsync();
                }
            }
            await _stdoutPump;
        }
        finally
        {
            _process.Dispose();
            if (_ownsDataDirectory)
                Directory.Delete(DataDirectory, recursive: true);
        }
    }
}
