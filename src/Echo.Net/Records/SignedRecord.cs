using System.Buffers;
using System.Text;
using Echo.Net.Framing;
using Echo.Net.Identity;
using Google.Protobuf;

namespace Echo.Net.Records;

/// <summary>
/// A payload signed by a peer's identity key in the libp2p signed-envelope format (RFC 0002): the
/// signature covers a domain string, the payload type and the payload, each behind its unsigned-varint
/// length, so a signature made for one purpose (one domain) is never valid for another.
/// </summary>
/// <param name="Key">The signer's public key; <see cref="Signer"/> is its peer id.</param>
/// <param name="PayloadType">What the payload is.</param>
/// <param name="Payload">The signed bytes.</param>
public sealed record SignedRecord(PublicKey Key, byte[] PayloadType, byte[] Payload)
{
    /// <summary>The name used in <see cref="ProtocolViolationException"/>s.</summary>
    public const string ProtocolId = "libp2p-signed-envelope";

    /// <summary>The peer id of the key that signed it.</summary>
    public PeerId Signer => Key.ToPeerId();

    /// <summary>Signs <paramref name="payload"/> with <paramref name="key"/> under <paramref name="domain"/> and encodes the envelope.</summary>
    public static byte[] Seal(KeyPair key, string domain, ReadOnlySpan<byte> payloadType, ReadOnlySpan<byte> payload)
    {
        CheckDomain(domain);
        return SealCore(key, domain, payloadType, payload);
    }

    /// <summary>
    /// <see cref="Seal"/> under one of libp2p's own domains (<c>libp2p-…</c>, e.g. the relay voucher's
    /// <c>libp2p-relay-rsvp</c>), for the libp2p protocol that defines it.
    /// </summary>
    internal static byte[] SealLibp2p(KeyPair key, string domain, ReadOnlySpan<byte> payloadType, ReadOnlySpan<byte> payload)
    {
        CheckLibp2pDomain(domain);
        return SealCore(key, domain, payloadType, payload);
    }

    /// <summary><see cref="Open"/> under one of libp2p's own domains (<c>libp2p-…</c>).</summary>
    /// <exception cref="ProtocolViolationException">Malformed, or the signature does not verify.</exception>
    internal static SignedRecord OpenLibp2p(ReadOnlySpan<byte> encoded, string domain)
    {
        CheckLibp2pDomain(domain);
        return OpenCore(encoded, domain);
    }

    private static void CheckLibp2pDomain(string domain)
    {
        if (!domain.StartsWith("libp2p-", StringComparison.Ordinal) || Encoding.UTF8.GetByteCount(domain) > 64)
            throw new ArgumentException("a libp2p domain starts with libp2p- and is at most 64 bytes", nameof(domain));
    }

    private static byte[] SealCore(KeyPair key, string domain, ReadOnlySpan<byte> payloadType, ReadOnlySpan<byte> payload)
    {
        byte[] signature = key.Sign(SignedBytes(domain, payloadType, payload));
        return new Envelope
        {
            PublicKey = ByteString.CopyFrom(key.PublicKey.ToProtobuf()),
            PayloadType = ByteString.CopyFrom(payloadType),
            Payload = ByteString.CopyFrom(payload),
            Signature = ByteString.CopyFrom(signature),
        }.ToByteArray();
    }

    /// <summary>
    /// Decodes an envelope and checks its signature under <paramref name="domain"/>. The caller
    /// bounds <paramref name="encoded"/> before it gets here and checks who the signer is.
    /// </summary>
    /// <exception cref="ProtocolViolationException">Malformed, or the signature does not verify.</exception>
    public static SignedRecord Open(ReadOnlySpan<byte> encoded, string domain)
    {
        CheckDomain(domain);
        return OpenCore(encoded, domain);
    }

    private static SignedRecord OpenCore(ReadOnlySpan<byte> encoded, string domain)
    {
        Envelope envelope;
        try
        {
            envelope = Envelope.Parser.ParseFrom(encoded);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(ProtocolId, "malformed envelope: " + e.Message, e);
        }
        if (envelope.PublicKey.Length is 0 or > PublicKey.MaxEncodedLength)
            throw new ProtocolViolationException(ProtocolId, "envelope without a usable public key");
        PublicKey key = PublicKey.FromProtobuf(envelope.PublicKey.Span);
        byte[] payloadType = envelope.PayloadType.ToByteArray();
        byte[] payload = envelope.Payload.ToByteArray();
        if (!key.Verify(SignedBytes(domain, payloadType, payload), envelope.Signature.Span))
            throw new ProtocolViolationException(ProtocolId, "bad signature");
        return new SignedRecord(key, payloadType, payload);
    }

    /// <summary>
    /// A domain is 1 to 64 bytes of UTF-8 and not libp2p's own (<c>libp2p-…</c>), so the first signed
    /// byte (its length) can never begin the text another libp2p signature covers.
    /// </summary>
    private static void CheckDomain(string domain)
    {
        int bytes = Encoding.UTF8.GetByteCount(domain);
        if (bytes is 0 or > 64 || domain.StartsWith("libp2p-", StringComparison.Ordinal))
            throw new ArgumentException("a record domain is 1 to 64 bytes and not libp2p's own", nameof(domain));
    }

    private static byte[] SignedBytes(string domain, ReadOnlySpan<byte> payloadType, ReadOnlySpan<byte> payload)
    {
        ArrayBufferWriter<byte> buffer = new();
        LengthPrefixed.Write(buffer, Encoding.UTF8.GetBytes(domain));
        LengthPrefixed.Write(buffer, payloadType);
        LengthPrefixed.Write(buffer, payload);
        return buffer.WrittenSpan.ToArray();
    }
}
