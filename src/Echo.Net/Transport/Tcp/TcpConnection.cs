using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Echo.Net.Host;
using Echo.Net.Multiformats;

namespace Echo.Net.Transport.Tcp;

/// <summary>
/// A raw TCP connection as a duplex pipe: the bottom of every libp2p connection, before
/// multistream-select and Noise.
/// </summary>
/// <remarks>
/// Both directions drive the socket from their caller's thread (<see cref="SocketReader"/>,
/// <see cref="SocketWriter"/>): no pump task and no buffer while the connection is idle, receives
/// sized to what is arriving and one send per flush.
/// </remarks>
internal sealed class TcpConnection : IRawConnection
{
    private readonly Socket _socket;
    private readonly IPEndPoint _localEndPoint;
    private readonly IPEndPoint _remoteEndPoint;
    private int _disposed;

    public TcpConnection(Socket socket)
    {
        _socket = socket;
        socket.NoDelay = true;
        Input = new SocketReader(socket);
        Output = new SocketWriter(socket);
        _localEndPoint = Normalize((IPEndPoint)socket.LocalEndPoint!);
        _remoteEndPoint = Normalize((IPEndPoint)socket.RemoteEndPoint!);
    }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    // Built when asked rather than kept: two multiaddrs were ~0.6 KB of every idle connection, and
    // after the upgrade only the Connection's own copy (with the peer id) is used.
    public Multiaddr LocalAddress => Multiaddr.FromTcpEndPoint(_localEndPoint);

    public Multiaddr RemoteAddress => Multiaddr.FromTcpEndPoint(_remoteEndPoint);

    /// <summary>Closes the socket at once (both directions); pending reads and writes end.</summary>
    public void Abort()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        _socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Abort();
        await Input.CompleteAsync().ConfigureAwait(false);
        await Output.CompleteAsync().ConfigureAwait(false);
    }

    internal static IPEndPoint Normalize(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;
}
