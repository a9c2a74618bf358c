using System.Net;
using Echo.Core.Files;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Protocols.Files;

/// <summary>
/// The addresses a file offer carries, so that a recipient not connected to the offerer can dial it.
/// They are covered by the offerer's signature (a room offer is inside its signed pubsub message, a
/// direct offer arrives on an authenticated stream). Read from the network, they are bounded: at
/// most <see cref="FileOffer.MaxAddresses"/>, each a TCP multiaddr (ip4, ip6 or dns) of at most
/// <see cref="FileOffer.MaxAddressLength"/> characters, without <c>/p2p/</c> or with the offerer's
/// own id. Loopback and private addresses are kept: peers on one LAN or machine use them.
/// </summary>
public static class OfferAddresses
{
    /// <summary>Raw entries looked at, valid or not: a bound on the work a hostile list can cause.</summary>
    public const int MaxEntriesRead = 4 * FileOffer.MaxAddresses;

    /// <summary>
    /// The usable addresses of <paramref name="raw"/>, in order, without <c>/p2p/</c>, duplicates
    /// and anything malformed dropped; null when none is left.
    /// </summary>
    public static IReadOnlyList<string>? Read(IEnumerable<string?>? raw, string offerer)
    {
        if (raw is null)
            return null;
        PeerId? offererId = PeerId.TryParse(offerer, out PeerId? parsed) ? parsed : null;
        List<string> result = [];
        foreach (string? text in raw.Take(MaxEntriesRead))
        {
            if (result.Count == FileOffer.MaxAddresses)
                break;
            if (text is null || text.Length > FileOffer.MaxAddressLength || !Multiaddr.TryParse(text, out Multiaddr? address) || address is null)
                continue;
            if (address.PeerId is { } named && (offererId is null || named != offererId))
                continue;
            Multiaddr bare = address.WithoutPeerId();
            string normalized = bare.ToString();
            if (IsDialable(bare) && !result.Contains(normalized, StringComparer.Ordinal))
                result.Add(normalized);
        }
        return result.Count == 0 ? null : result;
    }

    /// <summary>Our own addresses for an offer we make (at most <see cref="FileOffer.MaxAddresses"/>), or null when there are none.</summary>
    public static IReadOnlyList<string>? Own(IEnumerable<Multiaddr> advertised)
    {
        List<string> result = [];
        foreach (Multiaddr address in advertised)
        {
            Multiaddr bare = address.WithoutPeerId();
            string text = bare.ToString();
            if (result.Count < FileOffer.MaxAddresses && text.Length <= FileOffer.MaxAddressLength && IsDialable(bare)
                && !result.Contains(text, StringComparer.Ordinal))
                result.Add(text);
        }
        return result.Count == 0 ? null : result;
    }

    /// <summary>A TCP address one can dial: a concrete IP (not 0.0.0.0, ::, multicast or port 0) or a DNS name.</summary>
    public static bool IsDialable(Multiaddr address)
    {
        if (address.TryGetTcpEndPoint(out IPEndPoint? endPoint) && endPoint is not null)
        {
            IPAddress ip = endPoint.Address;
            return endPoint.Port != 0 && !ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any) && !ip.Equals(IPAddress.Broadcast)
                   && !(ip.IsIPv6Multicast || (ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && ip.GetAddressBytes()[0] is >= 224 and <= 239));
        }
        return address.TryGetDnsTcp(out string? host, out int port, out _) && host is { Length: > 0 } && port != 0;
    }
}
