using System.Net;
using System.Net.Sockets;
using Echo.Net.Host;
using Echo.Net.Multiformats;

namespace Echo.Net.Transport.Tcp;

/// <summary>
/// TCP listen and dial for <c>/ip4|ip6/&lt;addr&gt;/tcp/&lt;port&gt;</c> and
/// <c>/dns|dns4|dns6/&lt;host&gt;/tcp/&lt;port&gt;</c> multiaddrs.
/// </summary>
internal static class TcpTransport
{
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

    public static async Task<TcpConnection> DialAsync(Multiaddr address, CancellationToken cancellationToken)
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
            Socket socket = new(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(target, cancellationToken).ConfigureAwait(false);
                return new TcpConnection(socket);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
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

    private static string FamilyName(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => "IPv4",
        AddressFamily.InterNetworkV6 => "IPv6",
        _ => "IP",
    };
}
