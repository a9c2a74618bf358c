using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Echo.Net.Multiformats;

namespace Echo.Net.Transport.Tcp;

/// <summary>
/// A raw TCP connection as a duplex pipe: the bottom of every libp2p connection, before
/// multistream-select and Noise.
/// </summary>
/// <remarks>
/// Reads use zero-byte reads: an idle connection waits for data without holding a receive buffer,
/// which keeps the memory of many idle connections small. Reads take up to 256 KiB at a time when
/// data is flowing, so a bulk transfer costs few system calls.
/// </remarks>
internal sealed class TcpConnection : IDuplexPipe, IAsyncDisposable
{
    private const int ReadBufferSize = 256 * 1024;
    private const int MinimumReadSize = 16 * 1024;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private int _disposed;

    public TcpConnection(Socket socket)
    {
        _socket = socket;
        socket.NoDelay = true;
        _stream = new NetworkStream(socket, ownsSocket: true);
        Input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: ReadBufferSize,
            minimumReadSize: MinimumReadSize, leaveOpen: true, useZeroByteReads: true));
        Output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024, leaveOpen: true));
        LocalAddress = Multiaddr.FromTcpEndPoint(Normalize((IPEndPoint)socket.LocalEndPoint!));
        RemoteAddress = Multiaddr.FromTcpEndPoint(Normalize((IPEndPoint)socket.RemoteEndPoint!));
    }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    public Multiaddr LocalAddress { get; }

    public Multiaddr RemoteAddress { get; }

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
        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    internal static IPEndPoint Normalize(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;
}
