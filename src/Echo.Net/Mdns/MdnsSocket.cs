using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Echo.Net.Mdns;

/// <summary>An interface we can multicast on, for one address family.</summary>
/// <param name="Name">The interface name (eth0, veth1...).</param>
/// <param name="Index">The interface index (IPv4 or IPv6 index, per family).</param>
/// <param name="Family">InterNetwork or InterNetworkV6.</param>
/// <param name="Address">An address of the interface in that family.</param>
internal sealed record MulticastInterface(string Name, int Index, AddressFamily Family, IPAddress Address)
{
    /// <summary>
    /// The interfaces that are up, can multicast and are not loopback, per family (an IPv4 one needs
    /// an IPv4 address; an IPv6 one any IPv6 address, link-local included).
    /// </summary>
    public static IReadOnlyList<MulticastInterface> Current(bool ipv4, bool ipv6)
    {
        List<MulticastInterface> result = [];
        foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus is not (OperationalStatus.Up or OperationalStatus.Unknown) || !nic.SupportsMulticast
                || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
                continue;
            IPInterfaceProperties properties;
            try
            {
                properties = nic.GetIPProperties();
            }
            catch (NetworkInformationException)
            {
                continue;
            }
            if (ipv4 && nic.Supports(NetworkInterfaceComponent.IPv4)
                && properties.UnicastAddresses.Select(u => u.Address).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) is { } v4)
                result.Add(new MulticastInterface(nic.Name, properties.GetIPv4Properties().Index, AddressFamily.InterNetwork, v4));
            if (ipv6 && nic.Supports(NetworkInterfaceComponent.IPv6)
                && properties.UnicastAddresses.Select(u => u.Address).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6) is { } v6)
                result.Add(new MulticastInterface(nic.Name, properties.GetIPv6Properties().Index, AddressFamily.InterNetworkV6, v6));
        }
        return result;
    }
}

/// <summary>
/// The mDNS socket of one address family: bound to port 5353 on the unspecified address with
/// SO_REUSEADDR (other mDNS responders on the machine share the port), joined to the group on every
/// interface, and sending on one named interface at a time. Naming the interface
/// (IP_MULTICAST_IF / IPV6_MULTICAST_IF) is what makes a send work without a default route, where the
/// kernel would otherwise answer "network unreachable", and what reaches every interface rather
/// than the one the routing table picks.
/// </summary>
internal sealed class MdnsSocket : IDisposable
{
    public static readonly IPAddress GroupV4 = IPAddress.Parse("224.0.0.251");
    public static readonly IPAddress GroupV6 = IPAddress.Parse("ff02::fb");

    private readonly Socket _socket;
    private readonly int _port;
    private readonly HashSet<int> _joined = [];
    private readonly Lock _sendLock = new();

    private MdnsSocket(Socket socket, AddressFamily family, int port)
    {
        _socket = socket;
        Family = family;
        _port = port;
    }

    public AddressFamily Family { get; }

    /// <summary>Opens and binds the socket; throws <see cref="SocketException"/> when the family or port is unavailable.</summary>
    public static MdnsSocket Open(AddressFamily family, int port)
    {
        Socket socket = new(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (family == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = false;
                socket.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastTimeToLive, 255);
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastLoopback, true);
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.PacketInformation, true);
            }
            else
            {
                socket.Bind(new IPEndPoint(IPAddress.Any, port));
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, 255);
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
            }
            return new MdnsSocket(socket, family, port);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Joins the group on <paramref name="nic"/> once; returns false when it was joined before.</summary>
    public bool Join(MulticastInterface nic)
    {
        lock (_joined)
        {
            if (_joined.Contains(nic.Index))
                return false;
            if (Family == AddressFamily.InterNetworkV6)
                _socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.AddMembership, new IPv6MulticastOption(GroupV6, nic.Index));
            else
                _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(GroupV4, nic.Index));
            _joined.Add(nic.Index);
            return true;
        }
    }

    /// <summary>Multicasts <paramref name="packet"/> out of <paramref name="nic"/>.</summary>
    public void Send(byte[] packet, MulticastInterface nic)
    {
        lock (_sendLock)
        {
            if (Family == AddressFamily.InterNetworkV6)
            {
                _socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastInterface, nic.Index);
                _socket.SendTo(packet, new IPEndPoint(new IPAddress(GroupV6.GetAddressBytes(), nic.Index), _port));
            }
            else
            {
                // IP_MULTICAST_IF takes the interface's address (struct in_addr, network byte order).
                _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface,
                    BitConverter.ToInt32(nic.Address.GetAddressBytes()));
                _socket.SendTo(packet, new IPEndPoint(GroupV4, _port));
            }
        }
    }

    /// <summary>
    /// Waits for the next datagram: its length (-1 when it did not fit in <paramref name="buffer"/>),
    /// sender and the index of the interface it arrived on (0 when unknown). Closing the socket ends
    /// the wait with <see cref="ObjectDisposedException"/> or <see cref="SocketException"/>.
    /// </summary>
    public (int Length, IPEndPoint Source, int Interface) Receive(byte[] buffer)
    {
        EndPoint from = Family == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
        SocketFlags flags = SocketFlags.None;
        int received = _socket.ReceiveMessageFrom(buffer, 0, buffer.Length, ref flags, ref from, out IPPacketInformation packet);
        int length = (flags & SocketFlags.Truncated) != 0 ? -1 : received;
        return (length, (IPEndPoint)from, packet.Interface);
    }

    public void Dispose() => _socket.Dispose();
}
