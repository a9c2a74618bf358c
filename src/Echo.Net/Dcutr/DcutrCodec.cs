using System.IO.Pipelines;
using System.Net;
using Echo.Net.Addressing;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Google.Protobuf;

namespace Echo.Net.Dcutr;

/// <summary>
/// The DCUtR wire: uvarint-length-prefixed <c>HolePunch</c> messages of at most
/// <see cref="DcutrLimits.MaxMessageLength"/> bytes (checked before allocating), and the checks on the
/// addresses a peer sends.
/// </summary>
internal static class DcutrCodec
{
    public const string ProtocolId = Libp2pHost.DcutrProtocolId;

    /// <summary>Reads one message; null when the peer closed the stream before sending one.</summary>
    /// <exception cref="ProtocolViolationException">Oversized, malformed, or without a type.</exception>
    public static async ValueTask<Pb.HolePunch?> ReadAsync(PipeReader input, CancellationToken cancellationToken)
    {
        byte[]? bytes = await input.ReadLengthPrefixedAsync(DcutrLimits.MaxMessageLength, ProtocolId, cancellationToken)
            .ConfigureAwait(false);
        return bytes is null ? null : Parse(bytes);
    }

    public static Pb.HolePunch Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > DcutrLimits.MaxMessageLength)
            throw new OversizedMessageException(ProtocolId, (ulong)bytes.Length, DcutrLimits.MaxMessageLength);
        Pb.HolePunch message;
        try
        {
            message = Pb.HolePunch.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(ProtocolId, "malformed HolePunch message: " + e.Message, e);
        }
        if (!message.HasType || !Enum.IsDefined(message.Type))
            throw new ProtocolViolationException(ProtocolId, "HolePunch message without a known type");
        return message;
    }

    public static Pb.HolePunch Connect(IEnumerable<Multiaddr> addresses)
    {
        Pb.HolePunch message = new() { Type = Pb.HolePunch.Types.Type.Connect };
        foreach (Multiaddr address in addresses)
            message.ObsAddrs.Add(ByteString.CopyFrom(address.Bytes));
        return message;
    }

    public static Pb.HolePunch Sync() => new() { Type = Pb.HolePunch.Types.Type.Sync };

    public static ValueTask WriteAsync(PipeWriter output, Pb.HolePunch message, CancellationToken cancellationToken) =>
        output.WriteLengthPrefixedAsync(message.ToByteArray(), cancellationToken);

    /// <summary>
    /// The addresses of a CONNECT worth dialing for a TCP hole punch: parsed, IP and TCP with a port,
    /// public for <paramref name="classifier"/> (no relay, private, loopback or link-local address),
    /// naming no other peer than <paramref name="peer"/>, without duplicates, at most
    /// <see cref="DcutrLimits.MaxAddresses"/>. Anything else is dropped and counted, never an error.
    /// </summary>
    public static (IReadOnlyList<Multiaddr> Usable, int Dropped) UsableAddresses(IEnumerable<ByteString> raw,
        AddressClassifier classifier, PeerId peer)
    {
        List<Multiaddr> usable = [];
        int dropped = 0;
        foreach (ByteString bytes in raw)
        {
            if (usable.Count >= DcutrLimits.MaxAddresses
                || !Multiaddr.TryFromBytes(bytes.Span, out Multiaddr? address, out _) || address is null
                || !IsDialable(address, classifier, peer))
            {
                dropped++;
                continue;
            }
            Multiaddr bare = address.WithoutPeerId();
            if (usable.Contains(bare))
                dropped++;
            else
                usable.Add(bare);
        }
        return (usable, dropped);
    }

    /// <summary>Whether <paramref name="address"/> is a public IP and TCP address (of <paramref name="peer"/> when it names one).</summary>
    public static bool IsDialable(Multiaddr address, AddressClassifier classifier, PeerId? peer)
    {
        if (address.PeerId is { } named && named != peer)
            return false;
        Multiaddr bare = address.WithoutPeerId();
        return bare.TryGetTcpEndPoint(out IPEndPoint? endPoint) && endPoint is not null && endPoint.Port != 0
            && bare.Components.Count == 2 && classifier.Classify(bare) == AddressClass.Public;
    }

    /// <summary>
    /// Whether one IP of <paramref name="earlier"/> and <paramref name="later"/> (a peer's addresses in
    /// two CONNECTs, or ours as two observers saw them) came with different ports: the NAT picks a new
    /// port per destination or per connection, which a TCP hole punch cannot predict.
    /// </summary>
    public static bool PortsDiffer(IEnumerable<Multiaddr> earlier, IEnumerable<Multiaddr> later)
    {
        Dictionary<IPAddress, HashSet<int>> before = PortsByIp(earlier);
        foreach ((IPAddress ip, HashSet<int> ports) in PortsByIp(later))
            if (before.TryGetValue(ip, out HashSet<int>? old) && !old.SetEquals(ports))
                return true;
        return false;
    }

    private static Dictionary<IPAddress, HashSet<int>> PortsByIp(IEnumerable<Multiaddr> addresses)
    {
        Dictionary<IPAddress, HashSet<int>> result = [];
        foreach (Multiaddr address in addresses)
        {
            if (!address.TryGetTcpEndPoint(out IPEndPoint? endPoint) || endPoint is null)
                continue;
            if (!result.TryGetValue(endPoint.Address, out HashSet<int>? ports))
                result[endPoint.Address] = ports = [];
            ports.Add(endPoint.Port);
        }
        return result;
    }
}
