using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.Relay;

/// <summary>
/// A reservation a relay granted us: while it holds (and our connection to the relay stays up),
/// peers reach us at <see cref="CircuitAddresses"/>.
/// </summary>
/// <param name="Relay">The relay's peer id.</param>
/// <param name="Expires">When the relay forgets it unless refreshed (the relay's <c>expire</c>, UTC).</param>
/// <param name="RelayAddresses">The relay's addresses as it sent them (with <c>/p2p/&lt;relay&gt;</c>), or the one we reached it at.</param>
/// <param name="Limit">What each relayed connection may carry (go, js: 2 min and 128 KiB per direction).</param>
/// <param name="Voucher">The relay's signed voucher, when it sent one that verified; advisory only.</param>
/// <param name="ObtainedAt">When the relay granted or last refreshed it.</param>
public sealed record RelayReservation(PeerId Relay, DateTimeOffset Expires, IReadOnlyList<Multiaddr> RelayAddresses,
    ConnectionLimit Limit, RelayVoucher? Voucher, DateTimeOffset ObtainedAt)
{
    /// <summary>Where peers dial us through this relay: each relay address followed by <c>/p2p-circuit</c>.</summary>
    public IReadOnlyList<Multiaddr> CircuitAddresses { get; } =
        [.. RelayAddresses.Select(a => a.Encapsulate(RelayAddressing.CircuitSuffix)).Distinct()];
}

/// <summary>
/// A relay's reservation voucher (circuit-v2 "Reservation Vouchers"): a signed envelope under
/// <see cref="Domain"/> saying <see cref="Relay"/> serves circuits to <see cref="Peer"/> until
/// <see cref="Expiration"/>. Advisory: nothing enforces it.
/// </summary>
public sealed record RelayVoucher(PeerId Relay, PeerId Peer, DateTimeOffset Expiration)
{
    /// <summary>The envelope's signature domain.</summary>
    public const string Domain = "libp2p-relay-rsvp";

    /// <summary>The envelope's payload type: the bytes 0x03 0x02 (multicodec 0x0302 as go and js write it, not as a varint).</summary>
    public static ReadOnlySpan<byte> PayloadType => [0x03, 0x02];

    /// <summary>Signs a voucher for <paramref name="peer"/> with the relay's key.</summary>
    internal static byte[] Seal(KeyPair relay, PeerId peer, DateTimeOffset expiration)
    {
        byte[] payload = Google.Protobuf.MessageExtensions.ToByteArray(new Pb.ReservationVoucher
        {
            Relay = Google.Protobuf.ByteString.CopyFrom(relay.PeerId.ToBytes()),
            Peer = Google.Protobuf.ByteString.CopyFrom(peer.ToBytes()),
            Expiration = (ulong)Math.Max(0, expiration.ToUnixTimeSeconds()),
        });
        return Records.SignedRecord.SealLibp2p(relay, Domain, PayloadType, payload);
    }

    /// <summary>
    /// Opens and checks a voucher: a valid signature under <see cref="Domain"/>, payload type 0x0302,
    /// signed by <paramref name="relay"/> and naming it and <paramref name="self"/>.
    /// </summary>
    /// <exception cref="ProtocolViolationException">Any of that does not hold.</exception>
    internal static RelayVoucher Open(ReadOnlySpan<byte> envelope, PeerId relay, PeerId self)
    {
        Records.SignedRecord record = Records.SignedRecord.OpenLibp2p(envelope, Domain);
        if (!record.PayloadType.AsSpan().SequenceEqual(PayloadType))
            throw new ProtocolViolationException(Domain, "the payload type is not 0x0302");
        if (record.Signer != relay)
            throw new ProtocolViolationException(Domain, $"signed by {record.Signer}, not by the relay");
        Pb.ReservationVoucher voucher = RelayCodec.Parse(Pb.ReservationVoucher.Parser, record.Payload, Domain);
        if (!PeerId.TryFromBytes(voucher.Relay.Span, out PeerId? named) || named != relay)
            throw new ProtocolViolationException(Domain, "the voucher names another relay");
        if (!PeerId.TryFromBytes(voucher.Peer.Span, out PeerId? peer) || peer != self)
            throw new ProtocolViolationException(Domain, "the voucher names another peer");
        long seconds = (long)Math.Min(voucher.Expiration, (ulong)DateTimeOffset.MaxValue.ToUnixTimeSeconds());
        return new RelayVoucher(relay, peer, DateTimeOffset.FromUnixTimeSeconds(seconds));
    }
}
