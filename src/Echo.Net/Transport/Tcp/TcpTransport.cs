using System.Net;
using System.Net.Sockets;
using Echo.Net.Host;
using Echo.Net.Multiformats;

namespace Echo.Net.Transport.Tcp;

/// <summary>
/// TCP listen and dial for <c>/ip4|ip6/&lt;addr&gt;/tcp/&lt;port&gt;</c> and
/// <c>/dns|dns4|dns6/&lt;host&gt;/tcp/&lt;port&gt;</c> multiaddrs.
/// </summary>
/// <remarks>
/// Port reuse (Linux): the listener and outgoing dials set <see cref="SocketOptionName.ReuseAddress"/>,
/// which .NET maps to SO_REUSEADDR and SO_REUSEPORT, and a dial binds to the listening port, so the
/// peer (and a NAT) sees our listen port: identify's observed address is then an address others can
/// dial, and a simultaneous open for hole punching can work. A dial from the listen port to a 4-tuple
/// that is in use already (EADDRNOTAVAIL) or a port that cannot be shared (EADDRINUSE) falls back to an
/// ephemeral port.
/// </remarks>
internal static class TcpTransport
{
    /// <summary>Whether listen and dial sockets share the listening port (SO_REUSEPORT semantics are Linux's).</summary>
    public static bool PortReuseSupported => OperatingSystem.IsLinux();

    /// <summary>True when this transport can dial or listen on <paramref name="address"/>.</summary>
    public static bool CanHandle(Multiaddr address) =>
        address.TryGetTcpEndPoint(out _) || address.TryGetDnsTcp(out _, out _, out _);

    public static Socket Listen(Multiaddr address, int backlog)
    {
        if (!address.TryGetTcpEndPoint(out IPEndPoint? endPoint) || endPoint is null)
            throw new ListenFailedException(address, "only /ip4/.../tcp/... and /ip6/.../tcp/... addresses can be listened on");
        Socket socket = new(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = false;
            if (PortReuseSupported)
            {
                // With SO_REUSEPORT a second listener of the same user would share the port silently:
                // probe with SO_REUSEADDR alone first, which conflicts with a listener (and not with
                // our own dialed connections or TIME_WAIT), so "port in use" is still reported.
                if (endPoint.Port != 0)
                    ProbeNotListening(endPoint);
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            }
            socket.Bind(endPoint);
            socket.Listen(backlog);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            string reason = e.SocketErrorCode switch
            {
                SocketError.AddressAlreadyInUse => $"port {endPoint.Port} on {endPoint.Address} is already in use",
                SocketError.AddressNotAvailable => $"{endPoint.Address} is not an address of this machine",
                SocketError.AccessDenied => $"not allowed to listen on port {endPoint.Port}",
                _ => e.Message,
            };
            throw new ListenFailedException(address, reason, e);
        }
    }

    // SOL_SOCKET and SO_REUSEADDR on Linux: .NET's ReuseAddress sets SO_REUSEPORT too.
    private const int SolSocket = 1;
    private const int SoReuseAddr = 2;

    private static void ProbeNotListening(IPEndPoint endPoint)
    {
        using Socket probe = new(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
            probe.DualMode = false;
        probe.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
        probe.Bind(endPoint);
    }

    /// <summary>
    /// Connects to <paramref name="address"/>. <paramref name="localEndPoint"/>, when given, picks the
    /// local endpoint for a target (our listen address of its family, for port reuse) or returns null
    /// for an ephemeral port; a reused port that cannot be used falls back to an ephemeral one.
    /// </summary>
    public static async Task<TcpConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken,
        Func<IPEndPoint, IPEndPoint?>? localEndPoint = null)
    {
        IPEndPoint[] targets;
        if (address.TryGetTcpEndPoint(out IPEndPoint? endPoint) && endPoint is not null)
            targets = [endPoint];
        else if (address.TryGetDnsTcp(out string? host, out int port, out AddressFamily family) && host is not null)
        {
            IPAddress[] resolved;
            try
            {
                resolved = await Dns.GetHostAddressesAsync(host, family, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new DialFailedException(address, $"cannot resolve {host}: {e.Message}", e);
            }
            if (resolved.Length == 0)
                throw new DialFailedException(address, $"{host} has no {FamilyName(family)} address");
            targets = [.. resolved.Select(a => new IPEndPoint(a, port))];
        }
        else
            throw new DialFailedException(address, "not a TCP address (need /ip4, /ip6, /dns, /dns4 or /dns6 followed by /tcp)");

        SocketException? last = null;
        foreach (IPEndPoint target in targets)
        {
            IPEndPoint? local = PortReuseSupported ? localEndPoint?.Invoke(target) : null;
            if (local is not null)
            {
                try
                {
                    return await ConnectAsync(target, local, cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressAlreadyInUse or SocketError.AddressNotAvailable)
                {
                    // The 4-tuple is taken (already connected to this peer from our port) or the port
                    // cannot be shared: dial from an ephemeral port instead.
                }
                catch (SocketException e)
                {
                    last = e;
                    continue;
                }
            }
            try
            {
                return await ConnectAsync(target, null, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                last = e;
            }
        }
        string reason = last!.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused (nothing listens there)",
            SocketError.NetworkUnreachable or SocketError.HostUnreachable => "address unreachable",
            SocketError.TimedOut => "timed out",
            _ => last.Message,
        };
        throw new DialFailedException(address, reason, last);
    }

    /// <summary>
    /// Connects to <paramref name="target"/> from <paramref name="local"/> (bound with port reuse) or an
    /// ephemeral port, without fallback: a hole punch must come from the listening port or not at all.
    /// </summary>
    internal static async Task<TcpConnection> ConnectAsync(IPEndPoint target, IPEndPoint? local, CancellationToken cancellationToken)
    {
        Socket socket = new(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (local is not null)
            {
                if (target.AddressFamily == AddressFamily.InterNetworkV6)
                    socket.DualMode = false;
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                socket.Bind(local);
            }
            await socket.ConnectAsync(target, cancellationToken).ConfigureAwait(false);
            return new TcpConnection(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static string FamilyName(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => "IPv4",
        AddressFamily.InterNetworkV6 => "IPv6",
        _ => "IP",
    };
}
