using System.Net;
using System.Net.Sockets;

namespace Echo.SystemTests;

/// <summary>
/// A TCP listener inside a network namespace that forwards every connection to <c>target</c> and
/// records, per connection, every byte the connecting side sent.
/// </summary>
internal sealed class RecordingProxy : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<MemoryStream> _received = [];
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;

    private RecordingProxy(Socket listener, IPEndPoint target)
    {
        _listener = listener;
        _target = target;
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    /// <summary>What each connection's client sent, in the order the connections came.</summary>
    public IReadOnlyList<byte[]> Received
    {
        get
        {
            lock (_received)
                return [.. _received.Select(r => { lock (r) return r.ToArray(); })];
        }
    }

    public static RecordingProxy Start(string netns, IPAddress address, IPEndPoint target) =>
        new(NamespaceSockets.Create(netns, () =>
        {
            Socket listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(address, 0));
            listener.Listen(16);
            return listener;
        }), target);

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                Socket client = await _listener.AcceptAsync(_stopping.Token);
                lock (_received)
                    _connections.Add(ForwardAsync(client));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ForwardAsync(Socket client)
    {
        MemoryStream record = new();
        lock (_received)
            _received.Add(record);
        using (client)
        using (Socket server = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            try
            {
                await server.ConnectAsync(_target, _stopping.Token);
                await Task.WhenAny(PumpAsync(client, server, record), PumpAsync(server, client, null));
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task PumpAsync(Socket from, Socket to, MemoryStream? record)
    {
        byte[] buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, _stopping.Token)) > 0)
            {
                if (record is not null)
                    lock (record)
                        record.Write(buffer, 0, read);
                await to.SendAsync(buffer.AsMemory(0, read), _stopping.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Dispose();
        await _accepting;
        Task[] connections;
        lock (_received)
            connections = [.. _connections];
        await Task.WhenAll(connections).WaitAsync(TimeSpan.FromSeconds(5));
        _stopping.Dispose();
    }
}
