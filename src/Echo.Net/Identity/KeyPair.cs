using Google.Protobuf;
using NSec.Cryptography;

namespace Echo.Net.Identity;

/// <summary>
/// This node's Ed25519 identity key (private and public) in the libp2p encoding. The private
/// <c>Data</c> is <c>seed(32) || public(32)</c>; the old 96-byte form <c>seed || pub || pub</c> is
/// accepted on load when the two copies match.
/// </summary>
public sealed class KeyPair : IDisposable
{
    public const string ProtocolId = "libp2p-private-key";
    private const int MaxEncodedLength = 256;

    private readonly Key _key;

    private KeyPair(Key key)
    {
        _key = key;
        PublicKey = PublicKey.FromEd25519(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
        PeerId = PublicKey.ToPeerId();
    }

    public PublicKey PublicKey { get; }

    public PeerId PeerId { get; }

    public static KeyPair Generate() =>
        new(Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    public static KeyPair FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != 32)
            throw new ArgumentException("an Ed25519 seed has 32 bytes", nameof(seed));
        return new(Key.Import(SignatureAlgorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey,
            new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));
    }

    /// <summary>Decodes the protobuf <c>PrivateKey</c>; throws <see cref="ProtocolViolationException"/> when invalid.</summary>
    public static KeyPair FromProtobuf(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length > MaxEncodedLength)
            throw new OversizedMessageException(ProtocolId, (ulong)encoded.Length, MaxEncodedLength);
        Pb.PrivateKey message;
        try
        {
            message = Pb.PrivateKey.Parser.ParseFrom(encoded);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(ProtocolId, "malformed private key: " + e.Message, e);
        }
        if (!message.HasType || !message.HasData)
            throw new ProtocolViolationException(ProtocolId, "private key lacks its type or data");
        if (message.Type != Pb.KeyType.Ed25519)
            throw new ProtocolViolationException(ProtocolId, $"only Ed25519 identity keys are supported, not {message.Type}");
        ReadOnlySpan<byte> data = message.Data.Span;
        if (data.Length != 64 && data.Length != 96)
            throw new ProtocolViolationException(ProtocolId, $"Ed25519 private key of {data.Length} bytes");
        if (data.Length == 96 && !data[32..64].SequenceEqual(data[64..96]))
            throw new ProtocolViolationException(ProtocolId, "the two public-key copies of a 96-byte private key differ");
        KeyPair pair = FromSeed(data[..32]);
        if (!pair.PublicKey.Data.SequenceEqual(data[32..64]))
        {
            pair.Dispose();
            throw new ProtocolViolationException(ProtocolId, "the public key does not belong to the private key");
        }
        return pair;
    }

    public byte[] ToProtobuf()
    {
        byte[] data = new byte[64];
        _key.Export(KeyBlobFormat.RawPrivateKey).CopyTo(data, 0);
        PublicKey.Data.CopyTo(data.AsSpan(32));
        return new Pb.PrivateKey { Type = Pb.KeyType.Ed25519, Data = ByteString.CopyFrom(data) }.ToByteArray();
    }

    public byte[] Sign(ReadOnlySpan<byte> data) => SignatureAlgorithm.Ed25519.Sign(_key, data);

    public void Sign(ReadOnlySpan<byte> data, Span<byte> signature) => SignatureAlgorithm.Ed25519.Sign(_key, data, signature);

    public void Dispose() => _key.Dispose();
}
