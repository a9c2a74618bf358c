using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Echo.Interop.Tests;

/// <summary>
/// A pinned js-libp2p node (interop/js/peer.mjs) running as a child process and driven over its
/// line-based JSON control channel: one command per stdin line, one reply per stdout line with the
/// same "id", and unsolicited {"type":"event"} lines in between. See interop/js/README.md.
/// </summary>
/// <remarks>
/// The peer listens on 127.0.0.1 with an OS-chosen port unless LISTEN says otherwise. Disposing sends
/// "stop", waits a bounded time for a clean exit and then kills the process tree.
/// </remarks>
public sealed class JsPeer : IAsyncDisposable
{
    /// <summary>Environment variable naming the interop/js directory, overriding the search.</summary>
    public const string DirectoryVariable = "ECHO_JS_PEER_DIR";

    public static readonly TimeSpan DefaultCommandTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);
    private static readonly JsonSerializerOptions ArgsJson = new(JsonSerializerDefaults.Web);

    // Events nobody reads must not grow without bound (a spawnDialers run alone makes thousands).
    private const int MaxQueuedEvents = 10_000;
    private const int StderrTailLines = 60;

    private readonly Process _process;
    private readonly ConcurrentDictionary<long, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly TaskCompletionSource<JsonElement> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<JsonElement> _events = Channel.CreateBounded<JsonElement>(
        new BoundedChannelOptions(MaxQueuedEvents) { FullMode = BoundedChannelFullMode.DropOldest, SingleWriter = true });
    private readonly Queue<string> _stderrTail = new();
    private readonly SemaphoreSlim _stdinLock = new(1, 1);
    private readonly CancellationTokenSource _disposing = new();
    private Task _stdoutPump = Task.CompletedTask;
    private Task _stderrPump = Task.CompletedTask;
    private long _nextId;
    private int _disposed;
    private bool _processReleased;

    private JsPeer(Process process) => _process = process;

    /// <summary>The js node's peer id (12D3KooW...).</summary>
    public string PeerId { get; private set; } = "";

    /// <summary>The js node's listen addresses, each ending in /p2p/&lt;PeerId&gt;.</summary>
    public IReadOnlyList<string> Addrs { get; private set; } = [];

    /// <summary>The first listen address; what a dialer normally wants.</summary>
    public string Addr => Addrs.Count > 0 ? Addrs[0] : throw new InvalidOperationException("the js peer has no listen address");

    /// <summary>Unsolicited events (connection:open, connection:close, peer:identify, ...) in arrival order.</summary>
    public ChannelReader<JsonElement> Events => _events.Reader;

    /// <summary>Whether the node process has exited.</summary>
    public bool HasExited => Volatile.Read(ref _processReleased) || _process.HasExited;

    /// <summary>The last lines the node wrote to stderr.</summary>
    public string StderrTail
    {
        get
        {
            lock (_stderrTail)
                return string.Join(Environment.NewLine, _stderrTail);
        }
    }

    /// <summary>
    /// Starts `node --import ./polyfill.mjs peer.mjs` in the interop/js directory with the given extra
    /// environment (transport, security, muxer, LISTEN, AGENT, GOSSIPSUB, ...) and waits for its
    /// "ready" line.
    /// </summary>
    public static Task<JsPeer> StartAsync(IDictionary<string, string>? env, CancellationToken cancellationToken) =>
        StartAsync(env, null, cancellationToken);

    /// <summary>As <see cref="StartAsync(IDictionary{string, string}?, CancellationToken)"/>, inside a network namespace.</summary>
    /// <param name="networkNamespace">Runs node in this network namespace (`ip netns exec`, which execs node itself).</param>
    public static async Task<JsPeer> StartAsync(IDictionary<string, string>? env, string? networkNamespace,
        CancellationToken cancellationToken)
    {
        string directory = FindDirectory();
        ProcessStartInfo startInfo = new(networkNamespace is null ? "node" : "ip")
        {
            WorkingDirectory = directory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        if (networkNamespace is not null)
        {
            foreach (string arg in (string[])["netns", "exec", networkNamespace, "node"])
                startInfo.ArgumentList.Add(arg);
        }
        startInfo.ArgumentList.Add("--import");
        startInfo.ArgumentList.Add("./polyfill.mjs");
        startInfo.ArgumentList.Add("peer.mjs");
        if (env is not null)
        {
            foreach ((string name, string value) in env)
                startInfo.Environment[name] = value;
        }

        Process process = new() { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new JsPeerException($"could not start node in {directory}: {e.Message}", null, "", e);
        }

        JsPeer peer = new(process);
        peer._stderrPump = Task.Run(peer.PumpStderrAsync, CancellationToken.None);
        peer._stdoutPump = Task.Run(peer.PumpStdoutAsync, CancellationToken.None);
        try
        {
            JsonElement ready = await peer._ready.Task.WaitAsync(ReadyTimeout, cancellationToken).ConfigureAwait(false);
            peer.PeerId = ready.GetProperty("peerId").GetString() ?? "";
            peer.Addrs = [.. ready.GetProperty("addrs").EnumerateArray().Select(a => a.GetString() ?? "")];
            return peer;
        }
        catch (Exception e)
        {
            // Disposing drains stderr, so the exception carries the peer's last words.
            await peer.DisposeAsync().ConfigureAwait(false);
            if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
                throw;
            string reason = e is TimeoutException ? $"no ready line within {ReadyTimeout.TotalSeconds:0} s" : e.Message;
            throw new JsPeerException($"the js peer in {directory} did not start: {reason}", null, peer.StderrTail, e);
        }
    }

    /// <inheritdoc cref="CommandAsync(string, object?, TimeSpan, CancellationToken)"/>
    public Task<JsonElement> CommandAsync(string cmd, object? args = null, CancellationToken cancellationToken = default) =>
        CommandAsync(cmd, args, DefaultCommandTimeout, cancellationToken);

    /// <summary>
    /// Sends one command and returns its reply (the whole JSON object, with "id" and "ok").
    /// <paramref name="args"/> is serialised with camelCase names and merged into the command line;
    /// the peer is told the same timeout ("timeoutMs") unless args carry one.
    /// </summary>
    /// <exception cref="JsPeerException">js answered ok:false, did not answer in time, or exited.</exception>
    public async Task<JsonElement> CommandAsync(string cmd, object? args, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(cmd);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

        JsonObject request = args switch
        {
            null => [],
            JsonObject o => (JsonObject)o.DeepClone(),
            _ => JsonSerializer.SerializeToNode(args, args.GetType(), ArgsJson) as JsonObject
                ?? throw new ArgumentException("command arguments must serialise to a JSON object", nameof(args)),
        };
        long id = Interlocked.Increment(ref _nextId);
        request["id"] = id;
        request["cmd"] = cmd;
        if (!request.ContainsKey("timeoutMs"))
            request["timeoutMs"] = (long)Math.Ceiling(timeout.TotalMilliseconds);

        TaskCompletionSource<JsonElement> reply = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        try
        {
            if (_process.HasExited)
                throw new JsPeerException($"the js peer has exited (code {_process.ExitCode}); cannot send '{cmd}'", null, StderrTail);
            await WriteLineAsync(request.ToJsonString(), cancellationToken).ConfigureAwait(false);
            JsonElement answer;
            try
            {
                answer = await reply.Task.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException e)
            {
                throw new JsPeerException($"js peer: '{cmd}' got no reply within {timeout.TotalSeconds:0.#} s", null, StderrTail, e);
            }
            if (!answer.TryGetProperty("ok", out JsonElement ok) || ok.ValueKind != JsonValueKind.True)
            {
                string error = answer.TryGetProperty("error", out JsonElement text) ? text.ToString() : answer.GetRawText();
                throw new JsPeerException($"js peer: '{cmd}' failed: {error}", error, StderrTail);
            }
            return answer;
        }
        catch (IOException e)
        {
            throw new JsPeerException($"js peer: could not send '{cmd}': {e.Message}", null, StderrTail, e);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Reads events until one matches, discarding the others.</summary>
    /// <exception cref="JsPeerException">No matching event arrived in time, or the peer exited.</exception>
    public async Task<JsonElement> WaitForEventAsync(Func<JsonElement, bool> match, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await foreach (JsonElement e in _events.Reader.ReadAllAsync(deadline.Token).ConfigureAwait(false))
            {
                if (match(e))
                    return e;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new JsPeerException($"js peer: no matching event within {timeout.TotalSeconds:0.#} s", null, StderrTail);
        }
        throw new JsPeerException("js peer: the event stream ended (the peer exited) before a matching event", null, StderrTail);
    }

    /// <summary>Sends "stop", waits a bounded time for the process to exit, then kills its tree.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        try
        {
            if (!_process.HasExited)
            {
                try
                {
                    using CancellationTokenSource stopWrite = new(StopTimeout);
                    await WriteLineAsync("""{"id":0,"cmd":"stop"}""", stopWrite.Token).ConfigureAwait(false);
                    _process.StandardInput.Close();
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
                {
                    // Already gone or wedged: the kill below settles it.
                }
                using CancellationTokenSource exitWait = new(StopTimeout);
                try
                {
                    await _process.WaitForExitAsync(exitWait.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(StopTimeout)
                        .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already reaped, or the kill raced with its exit.
        }
        finally
        {
            _disposing.Cancel();
            await Task.WhenAll(_stdoutPump, _stderrPump).WaitAsync(StopTimeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            Volatile.Write(ref _processReleased, true);
            _process.Dispose();
            _stdinLock.Dispose();
            _disposing.Dispose();
        }
    }

    private async Task WriteLineAsync(string line, CancellationToken cancellationToken)
    {
        await _stdinLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            StreamWriter stdin = _process.StandardInput;
            await stdin.WriteAsync((line + "\n").AsMemory(), cancellationToken).ConfigureAwait(false);
            await stdin.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _stdinLock.Release();
        }
    }

    private async Task PumpStdoutAsync()
    {
        StreamReader stdout = _process.StandardOutput;
        try
        {
            while (await stdout.ReadLineAsync(_disposing.Token).ConfigureAwait(false) is { } line)
            {
                if (line.Length == 0)
                    continue;
                JsonElement message;
                try
                {
                    using JsonDocument document = JsonDocument.Parse(line);
                    message = document.RootElement.Clone();
                }
                catch (JsonException)
                {
                    AddStderr($"[stdout, not JSON] {line}");
                    continue;
                }
                Dispatch(message);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Disposal, or the pipe broke with the process: handled below like end of stream.
        }
        finally
        {
            // Let the exit and the last stderr lines land so the error below can quote them.
            await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(1))
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await _stderrPump.WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            string exit = _process.HasExited ? $" with code {_process.ExitCode}" : "";
            JsPeerException gone = new($"the js peer closed its stdout (exited{exit})", null, StderrTail);
            _ready.TrySetException(gone);
            foreach (TaskCompletionSource<JsonElement> waiter in _pending.Values)
                waiter.TrySetException(gone);
            _events.Writer.TryComplete();
        }
    }

    private void Dispatch(JsonElement message)
    {
        if (message.ValueKind != JsonValueKind.Object)
            return;
        string? type = message.TryGetProperty("type", out JsonElement t) ? t.GetString() : null;
        if (type == "ready")
        {
            _ready.TrySetResult(message);
        }
        else if (type == "event")
        {
            _events.Writer.TryWrite(message);
        }
        else if (message.TryGetProperty("id", out JsonElement id) && id.ValueKind == JsonValueKind.Number
                 && _pending.TryGetValue(id.GetInt64(), out TaskCompletionSource<JsonElement>? waiter))
        {
            waiter.TrySetResult(message);
        }
    }

    private async Task PumpStderrAsync()
    {
        StreamReader stderr = _process.StandardError;
        try
        {
            while (await stderr.ReadLineAsync(_disposing.Token).ConfigureAwait(false) is { } line)
                AddStderr(line);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Disposal or a broken pipe ends the tail; what was read stays available.
        }
    }

    private void AddStderr(string line)
    {
        lock (_stderrTail)
        {
            _stderrTail.Enqueue(line);
            while (_stderrTail.Count > StderrTailLines)
                _stderrTail.Dequeue();
        }
    }

    /// <summary>
    /// The interop/js directory: $ECHO_JS_PEER_DIR, else the first ancestor of the test assembly that
    /// holds interop/js/peer.mjs or tests/Echo.Interop.Tests/interop/js/peer.mjs.
    /// </summary>
    public static string FindDirectory()
    {
        string? configured = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(Path.Combine(configured, "peer.mjs"))
                ? Path.GetFullPath(configured)
                : throw new DirectoryNotFoundException($"{DirectoryVariable}={configured} holds no peer.mjs");
        }
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (string candidate in (string[])[Path.Combine(dir.FullName, "interop", "js"),
                         Path.Combine(dir.FullName, "tests", "Echo.Interop.Tests", "interop", "js")])
            {
                if (File.Exists(Path.Combine(candidate, "peer.mjs")))
                    return candidate;
            }
        }
        throw new DirectoryNotFoundException(
            $"no interop/js/peer.mjs above {AppContext.BaseDirectory}; set {DirectoryVariable}");
    }
}
