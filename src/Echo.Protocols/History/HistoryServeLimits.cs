using System.Net;
using System.Net.Sockets;
using Echo.Core.Chat;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Protocols.History;

/// <summary>
/// What serving history may cost, per requesting peer and per remote address (an IPv4 address or
/// an IPv6 /56), so fresh identities from one host share one budget: a request rate for each, and
/// bytes a minute for each. A page's worth of bytes is reserved before the page is read from the
/// store and what it did not use is given back, so what is served never runs past the cap.
/// </summary>
internal sealed class HistoryServeLimits
{
    /// <summary>Bytes reserved for one answer before it is built: a full page and one more message.</summary>
    public const int Reservation = HistorySync.PageBytes + 64 * 1024;

    private readonly KeyedRate<PeerId> _peerRequests;
    private readonly KeyedRate<string> _addressRequests;
    private readonly KeyedRate<PeerId> _peerBytes;
    private readonly KeyedRate<string> _addressBytes;
    private long _peerRate;
    private long _addressRate;
    private long _peerBytesRefused;
    private long _addressBytesRefused;

    public HistoryServeLimits(HistorySyncOptions options, TimeProvider time)
    {
        const int keys = 4096;
        _peerRequests = new KeyedRate<PeerId>(options.RequestBurst, options.RequestsPerSecond, keys, time);
        _addressRequests = new KeyedRate<string>(options.AddressRequestBurst, options.AddressRequestsPerSecond, keys, time, StringComparer.Ordinal);
        _peerBytes = new KeyedRate<PeerId>(Math.Max(options.PeerBytesPerMinute, Reservation), options.PeerBytesPerMinute / 60.0, keys, time);
        _addressBytes = new KeyedRate<string>(Math.Max(options.AddressBytesPerMinute, Reservation), options.AddressBytesPerMinute / 60.0, keys, time,
            StringComparer.Ordinal);
    }

    /// <summary>
    /// Null when a request of <paramref name="peer"/> from <paramref name="address"/> may be served
    /// (then <see cref="Reservation"/> bytes are taken from both byte budgets; give back what the
    /// answer did not use with <see cref="Served"/>); otherwise how long until it may.
    /// </summary>
    public TimeSpan? TryAdmit(PeerId peer, string address)
    {
        if (_peerBytes.TryTakeOrWait(peer, Reservation) is { } peerWait)
        {
            Interlocked.Increment(ref _peerBytesRefused);
            return peerWait;
        }
        if (_addressBytes.TryTakeOrWait(address, Reservation) is { } addressWait)
        {
            _peerBytes.Charge(peer, -Reservation);
            Interlocked.Increment(ref _addressBytesRefused);
            return addressWait;
        }
        TimeSpan? wait = _peerRequests.TryTakeOrWait(peer);
        if (wait is null)
        {
            wait = _addressRequests.TryTakeOrWait(address);
            if (wait is not null)
                Interlocked.Increment(ref _addressRate);
        }
        else
        {
            Interlocked.Increment(ref _peerRate);
        }
        if (wait is not null)
        {
            _peerBytes.Charge(peer, -Reservation);
            _addressBytes.Charge(address, -Reservation);
        }
        return wait;
    }

    /// <summary>An admitted answer took <paramref name="bytes"/>: what it did not use of its reservation is given back.</summary>
    public void Served(PeerId peer, string address, int bytes)
    {
        int unused = Reservation - bytes;
        _peerBytes.Charge(peer, -unused);
        _addressBytes.Charge(address, -unused);
    }

    /// <summary>Requests refused so far by each limit, by name (for /stats).</summary>
    public IReadOnlyDictionary<string, long> Refusals
    {
        get
        {
            Dictionary<string, long> counts = new(StringComparer.Ordinal);
            Add(counts, "history.peer-rate", ref _peerRate);
            Add(counts, "history.address-rate", ref _addressRate);
            Add(counts, "history.peer-bytes", ref _peerBytesRefused);
            Add(counts, "history.address-bytes", ref _addressBytesRefused);
            return counts;
        }
    }

    private static void Add(Dictionary<string, long> counts, string name, ref long counter)
    {
        long n = Interlocked.Read(ref counter);
        if (n > 0)
            counts[name] = n;
    }

    /// <summary>
    /// The address a budget is kept for: the IPv4 address, or the /56 an IPv6 address is in (one
    /// host's share of a typical allocation); a connection without an IP shares one budget with its kind.
    /// </summary>
    public static string AddressKey(Multiaddr remote)
    {
        if (!remote.TryGetTcpEndPoint(out IPEndPoint? endPoint) || endPoint is null)
            return "other";
        IPAddress address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            return address.ToString();
        byte[] bytes = address.GetAddressBytes();
        Array.Clear(bytes, 7, bytes.Length - 7);
        return new IPAddress(bytes) + "/56";
    }
}
