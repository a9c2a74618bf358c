using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Echo.Interop.Tests;

/// <summary>
/// A TCP proxy on 127.0.0.1 that forwards every connection to a loopback target, holding each chunk
/// for a fixed delay in both directions: a link with latency, in order and without loss.
/// </summary>
/// <remarks>
/// Each direction of each connection has a reader that stamps chunks with their due time and a writer
/// that sends them when due. When either side closes or fails, both sockets of the pair are closed.
/// Disposing stops the listener and closes every pair.
/// </remarks>
public sealed class DelayProxy : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly IPEndPoint _target;
    private readonly TimeSpan _delay;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly HashSet<Task> _tasks = [];
    private readonly Task _accepting;

    private sealed record Chunk(byte[] Data, int Length, long Due);

    /// <summary>Listens on 127.0.0.1 with an OS-chosen port and forwards to 127.0.0.1:<paramref name="targetPort"/>.</summary>
    public DelayProxy(int targetPort, TimeSpan delay)
    {
        _target = new IPEndPoint(IPAddress.Loopback, targetPort);
        _delay = delay;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _accepting = AcceptLoopAsync();
    }

    /// <summary>The port the proxy listens on (on 127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>The proxy's address for a libp2p peer: /ip4/127.0.0.1/tcp/&lt;Port&gt;/p2p/&lt;peerId&gt;.</summary>
    public string AddressFor(string peerId) => $"/ip4/127.0.0.1/tcp/{Port}/p2p/{peerId}";

    /// <summary>The TCP port of a /ip4/127.0.0.1/tcp/&lt;port&gt;/... multiaddr.</summary>
    public static int PortOf(string multiaddr)
    {
        string[] parts = multiaddr.Split('/');
        int tcp = Array.IndexOf(parts, "tcp");
        if (parts.Length < 3 || parts[1] != "ip4" || parts[2] != "127.0.0.1" || tcp < 0 || tcp + 1 >= parts.Length)
            throw new ArgumentException($"not a 127.0.0.1 TCP address: {multiaddr}", nameof(multiaddr));
        return int.Parse(parts[tcp + 1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task AcceptLoopAsync()
    {
        await Task.Yield();
        try
        {
            while (true)
            {
                Socket inbound = await _listener.AcceptAsync(_stopping.Token);
                Track(ForwardAsync(inbound));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private void Track(Task task)
    {
        lock (_gate)
            _tasks.Add(task);
        _ = task.ContinueWith(t =>
        {
            lock (_gate)
                _tasks.Remove(t);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task ForwardAsync(Socket inbound)
    {
        using Socket client = inbound;
        using Socket server = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using CancellationTokenSource pair = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        client.NoDelay = true;
        server.NoDelay = true;
        try
        {
            await server.ConnectAsync(_target, pair.Token);
            await Task.WhenAll(PumpAsync(client, server, pair), PumpAsync(server, client, pair));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>One direction: chunks read from <paramref name="from"/> are written to <paramref name="to"/> once due.</summary>
    private async Task PumpAsync(Socket from, Socket to, CancellationTokenSource pair)
    {
        Channel<Chunk> queue = Channel.CreateUnbounded<Chunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        Task writer = WriteDueAsync(queue.Reader, to, pair);
        try
        {
            while (true)
            {
                byte[] buffer = new byte[64 * 1024];
                int read = await from.ReceiveAsync(buffer, SocketFlags.None, pair.Token);
                if (read == 0)
                    break;
                long due = TimeProvider.System.GetTimestamp() + (long)(_delay.TotalSeconds * TimeProvider.System.TimestampFrequency);
                queue.Writer.TryWrite(new Chunk(buffer, read, due));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            await pair.CancelAsync();
        }
        queue.Writer.TryComplete();
        await writer;
    }

    private static async Task WriteDueAsync(ChannelReader<Chunk> queue, Socket to, CancellationTokenSource pair)
    {
        try
        {
            await foreach (Chunk chunk in queue.ReadAllAsync(pair.Token))
            {
                TimeSpan wait = TimeProvider.System.GetElapsedTime(TimeProvider.System.GetTimestamp(), chunk.Due);
                if (wait > TimeSpan.Zero)
                    await Task.Delay(wait, pair.Token);
                for (int sent = 0; sent < chunk.Length;)
                    sent += await to.SendAsync(chunk.Data.AsMemory(sent, chunk.Length - sent), SocketFlags.None, pair.Token);
            }
            // The sender closed its side: pass the half-close on, once everything before it is out.
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            await pair.CancelAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Dispose();
        Task[] running;
        lock (_gate)
            running = [.. _tasks];
        await Task.WhenAll([_accepting, .. running]).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stopping.Dispose();
    }
}
