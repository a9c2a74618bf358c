using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Echo.Bench;

/// <summary>
/// A peer in its own process, C# (<c>echo-bench peer</c>) or js-libp2p (the interop peer), driven
/// by JSON lines on stdin/stdout. Both speak the same command protocol.
/// </summary>
internal sealed class PeerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<JsonObject> _replies = Channel.CreateUnbounded<JsonObject>();
    private readonly Task _reader;
    private int _nextId;

    private readonly bool _eventsTyped;

    private PeerProcess(Process process, string name, bool eventsTyped)
    {
        _process = process;
        Name = name;
        _eventsTyped = eventsTyped;
        _reader = ReadLoopAsync();
    }

    public string Name { get; }
    public string PeerId { get; private set; } = "";
    public string Address { get; private set; } = "";
    public int Pid => _process.Id;

    public static Task<PeerProcess> StartCSharpAsync(IReadOnlyDictionary<string, string>? environment = null, string mode = "peer")
    {
        string self = typeof(PeerProcess).Assembly.Location;
        ProcessStartInfo info = new("dotnet") { ArgumentList = { self, mode } };
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        return StartAsync(info, "C#");
    }

    public static Task<PeerProcess> StartJsAsync(string jsDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        ProcessStartInfo info = new("node") { ArgumentList = { "--import", "./polyfill.mjs", "peer.mjs" }, WorkingDirectory = jsDirectory };
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        // js-libp2p accepts 5 inbound connections per second per host and 10 pending by default:
        // a dial benchmark from one host needs more.
        info.Environment["INBOUND_CONNECTION_THRESHOLD"] = "100000";
        info.Environment["MAX_INCOMING_PENDING_CONNECTIONS"] = "1000";
        info.Environment["MAX_CONNECTIONS"] = "5000";
        return StartAsync(info, "js");
    }

    /// <summary>The NAT lab's js node (tests/Echo.System.Tests/lab/js/node.mjs) on loopback; its event lines are skipped.</summary>
    public static Task<PeerProcess> StartJsLabNodeAsync(string labJsDirectory, IReadOnlyDictionary<string, string> environment)
    {
        ProcessStartInfo info = new("node") { ArgumentList = { "--import", "./polyfill.mjs", "node.mjs" }, WorkingDirectory = labJsDirectory };
        foreach ((string name, string value) in environment)
            info.Environment[name] = value;
        return StartAsync(info, "js", eventsTyped: true);
    }

    private static async Task<PeerProcess> StartAsync(ProcessStartInfo info, string name, bool eventsTyped = false)
    {
        info.RedirectStandardInput = true;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = false;
        info.UseShellExecute = false;
        info.Environment["LISTEN"] = "/ip4/127.0.0.1/tcp/0";
        Process process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {info.FileName}");
        PeerProcess peer = new(process, name, eventsTyped);
        JsonObject ready = await peer._replies.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        peer.PeerId = ready["peerId"]!.GetValue<string>();
        peer.Address = ready["addrs"]![0]!.GetValue<string>();
        return peer;
    }

    private async Task ReadLoopAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith('{'))
                continue;
            JsonObject json = JsonNode.Parse(line)!.AsObject();
            if (json["type"]?.GetValue<string>() is "event" || (_eventsTyped && json["type"]?.GetValue<string>() is { } type && type != "ready"))
                continue;
            await _replies.Writer.WriteAsync(json);
        }
        _replies.Writer.TryComplete();
    }

    public async Task<JsonObject> CommandAsync(string cmd, JsonObject? args = null, TimeSpan? timeout = null)
    {
        JsonObject command = args ?? [];
        command["cmd"] = cmd;
        command["id"] = ++_nextId;
        await _process.StandardInput.WriteLineAsync(command.ToJsonString());
        await _process.StandardInput.FlushAsync();
        JsonObject reply = await _replies.Reader.ReadAsync().AsTask().WaitAsync(timeout ?? TimeSpan.FromMinutes(5));
        if (reply["ok"]?.GetValue<bool>() != true)
            throw new InvalidOperationException($"{Name} peer: {cmd} failed: {reply["error"]}");
        return reply;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await CommandAsync("stop", timeout: TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _reader.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        _process.Dispose();
    }
}
