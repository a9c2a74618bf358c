using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Echo.TestKit.Lab;

/// <summary>
/// A js-libp2p "public" node of the <see cref="NatLab"/> (tests/Echo.System.Tests/lab/js/node.mjs):
/// TCP + Noise + Yamux, identify, ping, a Kademlia DHT in server mode (<c>/ipfs/kad/1.0.0</c>, lab
/// addresses kept), AutoNAT v1 and v2, and optionally a circuit-relay-v2 server. It listens on
/// <c>/ip4/&lt;host&gt;/tcp/4001</c> inside its own public namespace and is driven by JSON lines (see
/// lab/js/README.md). Disposing closes its stdin and kills it if it lingers.
/// </summary>
public sealed class LabJsNode : IAsyncDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);
    private readonly Process _process;
    private readonly Channel<JsonElement> _events = Channel.CreateUnbounded<JsonElement>();
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly TaskCompletionSource<JsonElement> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly LabProcessOutput _stderr;
    private readonly SemaphoreSlim _stdin = new(1, 1);
    private readonly Task _stdoutPump;
    private long _nextId;
    private int _disposed;

    private LabJsNode(Process process, LabHost host, bool relay)
    {
        _process = process;
        Host = host;
        IsRelay = relay;
        _stderr = new LabProcessOutput(process);
        _stdoutPump = PumpAsync();
    }

    /// <summary>The public host (namespace and address) the node runs on.</summary>
    public LabHost Host { get; }

    /// <summary>Whether the node also serves circuit relay v2 (<c>/libp2p/circuit/relay/0.2.0/hop</c>).</summary>
    public bool IsRelay { get; }

    /// <summary>The node's peer id.</summary>
    public string PeerId { get; private set; } = "";

    /// <summary>The node's TCP port on <see cref="LabHost.Address"/>.</summary>
    public const int Port = 4001;

    /// <summary>The address to dial: <c>/ip4/&lt;host&gt;/tcp/4001/p2p/&lt;PeerId&gt;</c>.</summary>
    public string Address => $"/ip4/{Host.Address}/tcp/{Port}/p2p/{PeerId}";

    /// <summary>The protocols the node announced at start.</summary>
    public IReadOnlyList<string> Protocols { get; private set; } = [];

    /// <summary>The process id (the node itself: `ip netns exec` execs it).</summary>
    public int ProcessId => _process.Id;

    /// <summary>The last lines the node wrote to stderr.</summary>
    public string StandardError => _stderr.Text;

    /// <summary>The lab/js folder of the repository the tests run from.</summary>
    public static string Directory => Path.Combine(EchoChatProcess.RepositoryRoot, "tests", "Echo.System.Tests", "lab", "js");

    /// <summary>Whether <c>npm ci</c> has installed the node's packages (scripts/test-setup.sh does).</summary>
    public static bool Installed => System.IO.Directory.Exists(Path.Combine(Directory, "node_modules", "@libp2p", "kad-dht"));

    internal static Task<LabJsNode> StartAsync(LabHost host, bool relay, CancellationToken cancellationToken,
        IReadOnlyList<string>? extraAddresses = null, long? relayDataLimit = null, bool dhtClient = false) =>
        StartAsync(host, relay, ["ip", "netns", "exec", host.Namespace],
            string.Join(',', new[] { host.Address }.Concat(extraAddresses ?? []).Select(a => $"/ip4/{a}/tcp/{Port}")), cancellationToken, relayDataLimit,
            dhtClient);

    /// <summary>
    /// Starts a node outside any namespace on 127.0.0.1 and a free port (<see cref="LoopbackAddress"/>),
    /// for in-process interop tests that need no lab; stopped on dispose. With <paramref name="relay"/> a
    /// circuit-relay-v2 server (js defaults); with <paramref name="dhtClient"/> its DHT runs in client mode
    /// (<c>DHT_CLIENT=1</c>: asks only, in no routing table); with <paramref name="allowLoopback"/> inbound
    /// connections from 127.0.0.0/8 skip js's per-IP limits (<c>ALLOW_LOOPBACK=1</c>), for labs of many
    /// nodes that all share 127.0.0.1.
    /// </summary>
    public static Task<LabJsNode> StartOnLoopbackAsync(CancellationToken cancellationToken, bool relay = false, bool dhtClient = false,
        bool allowLoopback = false) =>
        StartAsync(new LabHost("", "127.0.0.1"), relay, [], "/ip4/127.0.0.1/tcp/0", cancellationToken, dhtClient: dhtClient,
            allowLoopback: allowLoopback);

    /// <summary>The first address the node listed at start, with <c>/p2p/</c> (for a loopback node, whose port is not 4001).</summary>
    public string LoopbackAddress { get; private set; } = "";

    private static async Task<LabJsNode> StartAsync(LabHost host, bool relay, string[] prefix, string listen, CancellationToken cancellationToken,
        long? relayDataLimit = null, bool dhtClient = false, bool allowLoopback = false)
    {
        string[] command = [.. prefix, "node", "--import", "./polyfill.mjs", "node.mjs"];
        ProcessStartInfo start = new(command[0])
        {
            WorkingDirectory = Directory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in command[1..])
            start.ArgumentList.Add(arg);
        start.Environment["LISTEN"] = listen;
        start.Environment["RELAY"] = relay ? "1" : "0";
        start.Environment["DHT_CLIENT"] = dhtClient ? "1" : "0";
        start.Environment["ALLOW_LOOPBACK"] = allowLoopback ? "1" : "0";
        if (relayDataLimit is { } limit)
            start.Environment["RELAY_DATA_LIMIT"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Process process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        LabJsNode node = new(process, host, relay);
        try
        {
            JsonElement ready = await node._ready.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            node.PeerId = ready.GetProperty("peerId").GetString()!;
            node.Protocols = [.. ready.GetProperty("protocols").EnumerateArray().Select(p => p.GetString()!)];
            node.LoopbackAddress = ready.GetProperty("addrs").EnumerateArray().Select(a => a.GetString()!).FirstOrDefault() ?? "";
            return node;
        }
        catch (Exception e)
        {
            await node.DisposeAsync().ConfigureAwait(false);
            if (e is OperationCanceledException)
                throw;
            throw new InvalidOperationException($"the lab js node on {host.Address} did not start: {e.Message}\n{node.StandardError}", e);
        }
    }

    /// <summary>
    /// Sends a command (<c>dial</c>, <c>ping</c>, <c>connections</c>, <c>peerStore</c>,
    /// <c>routingTable</c>) with <paramref name="args"/> merged in and returns the reply; throws when
    /// the node answers <c>ok:false</c>, exits, or does not answer within 30 s.
    /// </summary>
    public async Task<JsonElement> CommandAsync(string command, JsonObject? args, CancellationToken cancellationToken)
    {
        JsonObject request = args is null ? [] : (JsonObject)args.DeepClone();
        long id = Interlocked.Increment(ref _nextId);
        request["id"] = id;
        request["cmd"] = command;
        TaskCompletionSource<JsonElement> reply = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        try
        {
            await _stdin.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _process.StandardInput.WriteLineAsync(request.ToJsonString().AsMemory(), cancellationToken).ConfigureAwait(false);
                await _process.StandardInput.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _stdin.Release();
            }
            JsonElement answer = await reply.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            return answer.GetProperty("ok").GetBoolean()
                ? answer
                : throw new InvalidOperationException($"js node {Host.Address}: {command} failed: {answer.GetProperty("error").GetString()}");
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// The node's connections as it sees them: for each, the remote peer id and the remote address
    /// (for a peer behind a NAT, the router's WAN address and the mapped port).
    /// </summary>
    public async Task<IReadOnlyList<(string PeerId, string RemoteAddress, string Direction)>> ConnectionsAsync(CancellationToken cancellationToken)
    {
        JsonElement reply = await CommandAsync("connections", null, cancellationToken).ConfigureAwait(false);
        return [.. reply.GetProperty("connections").EnumerateArray()
            .Select(c => (c.GetProperty("peerId").GetString()!, c.GetProperty("remoteAddr").GetString()!, c.GetProperty("direction").GetString()!))];
    }

    /// <summary>The peer ids in the node's Kademlia routing table.</summary>
    public async Task<IReadOnlyList<string>> RoutingTableAsync(CancellationToken cancellationToken)
    {
        JsonElement reply = await CommandAsync("routingTable", null, cancellationToken).ConfigureAwait(false);
        return [.. reply.GetProperty("peers").EnumerateArray().Select(p => p.GetString()!)];
    }

    /// <summary>
    /// The next event matching <paramref name="match"/>, skipping others: <c>{"type":"connection",
    /// "peerId","remoteAddr","direction"}</c> on every new connection, <c>{"type":"identify","peerId",
    /// "protocols","listenAddrs","observedAddr","agentVersion"}</c> when the node identified a peer.
    /// </summary>
    public async Task<JsonElement> NextEventAsync(Func<JsonElement, bool> match, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            while (true)
            {
                JsonElement next = await _events.Reader.ReadAsync(limit.Token).ConfigureAwait(false);
                if (match(next))
                    return next;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"js node {Host.Address}: no matching event within {timeout}; stderr:\n{StandardError}");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"js node {Host.Address} exited; stderr:\n{StandardError}");
        }
    }

    private async Task PumpAsync()
    {
        try
        {
            while (await _process.StandardOutput.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                JsonElement message;
                try
                {
                    message = JsonDocument.Parse(line).RootElement.Clone();
                }
                catch (JsonException)
                {
                    continue;   // not a protocol line; the node writes diagnostics to stderr only
                }
                if (message.TryGetProperty("type", out JsonElement type))
                {
                    if (type.GetString() == "ready")
                        _ready.TrySetResult(message);
                    else
                        _events.Writer.TryWrite(message);
                }
                else if (message.TryGetProperty("id", out JsonElement id) && id.ValueKind == JsonValueKind.Number
                         && _pending.TryGetValue(id.GetInt64(), out TaskCompletionSource<JsonElement>? waiter))
                {
                    waiter.TrySetResult(message);
                }
            }
        }
        finally
        {
            InvalidOperationException gone = new($"js node {Host.Address} closed its output");
            _ready.TrySetException(gone);
            foreach (TaskCompletionSource<JsonElement> waiter in _pending.Values)
                waiter.TrySetException(gone);
            _events.Writer.TryComplete();
        }
    }

    /// <summary>Kills the node at once (SIGKILL), as a crash or a pulled cable would end it; <see cref="DisposeAsync"/> still cleans up.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Closes stdin (the node stops), kills it after 5 s; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        try
        {
            await LabProcessOutput.StopAsync(_process, StopTimeout).ConfigureAwait(false);
            await _stdoutPump.ConfigureAwait(false);
        }
        finally
        {
            _process.Dispose();
            _stdin.Dispose();
        }
    }
}
