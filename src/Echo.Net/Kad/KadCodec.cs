using System.IO.Pipelines;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Google.Protobuf;

namespace Echo.Net.Kad;

/// <summary>
/// The <c>/ipfs/kad/1.0.0</c> wire: uvarint-length-prefixed protobuf messages, the length checked
/// against the limit before anything is allocated, the number of peers in a message checked before
/// any peer is materialised, and every peer id and address validated on the way in.
/// </summary>
internal static class KadCodec
{
    public const string ProtocolId = KadDht.ProtocolId;

    /// <summary>Reads one message; null when the peer closed the stream first.</summary>
    /// <exception cref="ProtocolViolationException">Oversized, malformed, or too many peers.</exception>
    public static async ValueTask<Pb.Message?> ReadAsync(PipeReader input, int maxBytes, CancellationToken cancellationToken)
    {
        byte[]? bytes = await input.ReadLengthPrefixedAsync(maxBytes, ProtocolId, cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : Parse(bytes, maxBytes);
    }

    /// <summary>
    /// Parses a message after counting its repeated peers without building them: more than
    /// <see cref="KadLimits.MaxCloserPeers"/> closer or <see cref="KadLimits.MaxProviderPeers"/> provider
    /// peers refuses the message before the parser allocates an object per peer.
    /// </summary>
    public static Pb.Message Parse(ReadOnlySpan<byte> bytes, int maxBytes = KadLimits.MaxMessageBytes)
    {
        if (bytes.Length > maxBytes)
            throw new OversizedMessageException(ProtocolId, (ulong)bytes.Length, maxBytes);
        try
        {
            int closer = 0, providers = 0;
            CodedInputStream scan = new(bytes.ToArray());
            uint tag;
            while ((tag = scan.ReadTag()) != 0)
            {
                int field = WireFormat.GetTagFieldNumber(tag);
                if (field == Pb.Message.CloserPeersFieldNumber && ++closer > KadLimits.MaxCloserPeers)
                    throw new ProtocolViolationException(ProtocolId, $"more than {KadLimits.MaxCloserPeers} closer peers in one message");
                if (field == Pb.Message.ProviderPeersFieldNumber && ++providers > KadLimits.MaxProviderPeers)
                    throw new ProtocolViolationException(ProtocolId, $"more than {KadLimits.MaxProviderPeers} provider peers in one message");
                scan.SkipLastField();
            }
            return Pb.Message.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(ProtocolId, "malformed kad message: " + e.Message, e);
        }
    }

    public static ValueTask WriteAsync(PipeWriter output, Pb.Message message, CancellationToken cancellationToken) =>
        output.WriteLengthPrefixedAsync(message.ToByteArray(), cancellationToken);

    /// <summary>
    /// A peer of a message: null when its id does not parse. Addresses that do not parse, are not TCP
    /// (or, with <paramref name="allowCircuits"/>, a circuit through a relay reached over TCP), or fail
    /// <paramref name="filter"/> are dropped; at most <see cref="KadLimits.MaxAddressesPerPeer"/> are kept.
    /// Circuits are allowed for providers only (a NATed provider is reached through its relay); a DHT
    /// server is always dialed directly.
    /// </summary>
    public static KadPeer? ToPeer(Pb.Message.Types.Peer peer, Func<Multiaddr, bool>? filter, bool allowCircuits = false)
    {
        if (!PeerId.TryFromBytes(peer.Id.Span, out PeerId? id) || id is null)
            return null;
        List<Multiaddr> addresses = [];
        foreach (ByteString raw in peer.Addrs)
        {
            if (addresses.Count == KadLimits.MaxAddressesPerPeer)
                break;
            if (raw.Length > Multiaddr.MaxByteLength || !Multiaddr.TryFromBytes(raw.Span, out Multiaddr? address, out _) || address is null)
                continue;
            if (address.PeerId is { } suffix)
            {
                if (suffix != id)
                    continue;
                address = address.WithoutPeerId();
            }
            if (!IsUsableAddress(address, allowCircuits) || (filter is not null && !filter(address)) || addresses.Contains(address))
                continue;
            addresses.Add(address);
        }
        return new KadPeer(id, addresses);
    }

    /// <summary>
    /// Whether <paramref name="address"/> (without our <c>/p2p/</c> suffix) can be dialed: a TCP
    /// address, or with <paramref name="allowCircuits"/> <c>&lt;TCP address&gt;/p2p/&lt;relay&gt;/p2p-circuit</c>.
    /// </summary>
    public static bool IsUsableAddress(Multiaddr address, bool allowCircuits)
    {
        if (DnsAddr.DnsAddrResolver.IsDialable(address))
            return true;
        return allowCircuits && address.PeerId is null && Relay.RelayAddressing.IsDialableCircuit(address);
    }

    /// <summary>The wire form of <paramref name="peer"/>.</summary>
    public static Pb.Message.Types.Peer FromPeer(KadPeer peer, bool connected)
    {
        Pb.Message.Types.Peer result = new()
        {
            Id = ByteString.CopyFrom(peer.Id.Bytes),
            Connection = connected ? Pb.Message.Types.ConnectionType.Connected : Pb.Message.Types.ConnectionType.NotConnected,
        };
        foreach (Multiaddr address in peer.Addresses.Take(KadLimits.MaxAddressesPerPeer))
            result.Addrs.Add(ByteString.CopyFrom(address.Bytes));
        return result;
    }

    /// <summary>What a peer or the network can make an RPC fail with (as opposed to a bug here).</summary>
    public static bool IsPeerFailure(Exception e) =>
        e is ProtocolViolationException or IOException or PeerNotConnectedException or TimeoutException or ObjectDisposedException
            or DialFailedException or Multistream.ProtocolNotSupportedException or LimitedConnectionException;
}
