using System.Net;
using System.Net.Sockets;
using Echo.TestKit.Lab;

namespace Echo.SystemTests;

/// <summary>
/// Several servers behind one public IP:port, as a port-forwarding front of the lab: a listener on a
/// lab host that forwards its n-th connection to <c>targets[n % targets.Count]</c> (connecting from
/// inside the same namespace) and records each client's endpoint as it arrived (after any NAT).
/// When either side closes, both are closed; disposing stops everything.
/// </summary>
internal sealed class LabSplitForwarder : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _netns;
    private readonly IReadOnlyList<IPEndPoint> _targets;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly List<IPEndPoint> _clients = [];
    private readonly List<Task> _connections = [];
    private readonly Task _accepting;

    private LabSplitForwarder(Socket listener, string netns, IReadOnlyList<IPEndPoint> targets)
    {
        _listener = listener;
        _netns = netns;
        _targets = targets;
        _accepting = AcceptAsync();
    }

    /// <summary>The endpoints of the clients, in the order their connections were accepted.</summary>
    public IReadOnlyList<IPEndPoint> Clients
    {
        get
        {
            lock (_gate)
                return [.. _clients];
        }
    }

    /// <summary>Listens on <paramref name="host"/>'s address and <paramref name="port"/>.</summary>
    public static LabSplitForwarder Start(LabHost host, int port, IReadOnlyList<IPEndPoint> targets)
    {
        ArgumentOutOfRangeException.ThrowIfZero(targets.Count);
        Socket listener = NamespaceSockets.Create(host.Namespace, () =>
        {
            Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Parse(host.Address), port));
            socket.Listen(16);
            return socket;
        });
        return new LabSplitForwarder(listener, host.Namespace, targets);
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                Socket client = await _listener.AcceptAsync(_stopping.Token);
                lock (_gate)
                {
                    IPEndPoint target = _targets[_clients.Count % _targets.Count];
                    _clients.Add((IPEndPoint)client.RemoteEndPoint!);
                    _connections.Add(ForwardAsync(client, target));
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ForwardAsync(Socket client, IPEndPoint target)
    {
        using (client)
        using (Socket server = NamespaceSockets.Create(_netns, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)))
        {
            try
            {
                await server.ConnectAsync(target, _stopping.Token);
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
