using System.Net;
using System.Net.Sockets;

namespace Echo.SystemTests;

/// <summary>
/// Lets libp2p hosts in the test process dial from inside a network namespace: a listener on
/// 127.0.0.1 whose every connection is forwarded over a socket made in <c>netns</c>, so the target
/// sees the namespace's address (or <c>source</c>, one of the namespace's addresses). When either
/// side closes, both are closed.
/// </summary>
internal sealed class NamespaceForwarder : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _netns;
    private readonly IPEndPoint _target;
    private readonly IPAddress? _source;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;

    private NamespaceForwarder(string netns, IPEndPoint target, IPAddress? source)
    {
        _netns = netns;
        _target = target;
        _source = source;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        _accepting = AcceptAsync();
    }

    /// <summary>The loopback port to dial instead of the target.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public static NamespaceForwarder Start(string netns, IPEndPoint target, IPAddress? source = null) => new(netns, target, source);

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                Socket client = await _listener.AcceptAsync(_stopping.Token);
                lock (_gate)
                {
                    _connections.RemoveAll(t => t.IsCompleted);
                    _connections.Add(ForwardAsync(client));
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ForwardAsync(Socket client)
    {
        using (client)
        using (Socket server = NamespaceSockets.Create(_netns, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)))
        {
            try
            {
                if (_source is not null)
                    server.Bind(new IPEndPoint(_source, 0));
                await server.ConnectAsync(_target, _stopping.Token);
                await SocketRelay.RunAsync(client, server, _stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Dispose();
        await _accepting;
        Task[] connections;
        lock (_gate)
            connections = [.. _connections];
        await Task.WhenAll(connections).WaitAsync(TimeSpan.FromSeconds(10));
        _stopping.Dispose();
    }
}
