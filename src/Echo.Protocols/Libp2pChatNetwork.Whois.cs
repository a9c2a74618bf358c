using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Protocols;

/// <summary>/whois: a peer's connections, the addresses it reported and we remember, and when the peer book first saw it.</summary>
public sealed partial class Libp2pChatNetwork : IPeerDetails
{
    /// <summary>Addresses listed for one peer at most.</summary>
    private const int MaxWhoisAddresses = 16;

    /// <inheritdoc />
    public PeerDetails? Describe(string peerId)
    {
        if (!PeerId.TryParse(peerId, out PeerId? peer, out _) || peer is null)
            return null;
        PeerConnectionDetails[] connections = [.. _host.Connections
            .Where(c => c.RemotePeer == peer && !c.IsClosed)
            .OrderBy(c => c.OpenedAt)
            .Select(c => new PeerConnectionDetails(c.RemoteAddress.ToString(), c.Direction == ConnectionDirection.Inbound,
                c.RemoteAddress.ToString().Contains("/p2p-circuit", StringComparison.Ordinal), c.OpenedAt))];
        IEnumerable<Multiaddr> reported = _host.PeerStore.Get(peer)?.ListenAddresses ?? [];
        string[] addresses = [.. reported.Select(a => WithPeerIdOrSelf(a, peer))
            .Concat(RememberedAddresses(peer).Select(a => a.ToString()))
            .Distinct(StringComparer.Ordinal)
            .Take(MaxWhoisAddresses)];
        DateTimeOffset? firstSeen = _book?.FirstSeen(peer);
        return connections.Length == 0 && addresses.Length == 0 && firstSeen is null
            ? null
            : new PeerDetails(connections, addresses, firstSeen);
    }

    /// <summary>A reported address with the peer's id, or as reported when adding the id would break a multiaddr limit.</summary>
    private static string WithPeerIdOrSelf(Multiaddr address, PeerId peer)
    {
        try
        {
            return address.WithPeerId(peer).ToString();
        }
        catch (MultiaddrFormatException)
        {
            return address.ToString();
        }
    }
}
