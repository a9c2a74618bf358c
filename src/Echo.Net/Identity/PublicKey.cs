using System.Security.Cryptography;
using Google.Protobuf;
using NSec.Cryptography;

namespace Echo.Net.Identity;

/// <summary>
/// A peer's public identity key in the libp2p encoding
/// (https://github.com/libp2p/specs/blob/master/peer-ids/peer-ids.md).
/// </summary>
/// <remarks>
/// Encoded as the protobuf <c>PublicKey { Type = 1; Data = 2 }</c>; an Ed25519 key is always the
/// 36 bytes <c>08 01 12 20 &lt;32-byte key&gt;</c>. Any key type decodes (so peer ids of RSA,
/// secp256k1 and ECDSA peers can be derived), but only Ed25519 and ECDSA P-256 signatures verify.
/// </remarks>
public sealed class PublicKey : IEquatable<PublicKey>
{
    public const string ProtocolId = "libp2p-key";

    /// <summary>RSA 8192-bit keys in DER are a little over 1 KiB; nothing legitimate is larger.</summary>
    public const int MaxEncodedLength = 2048;

    private readonly byte[] _data;
    private readonly byte[] _encoded;

    /// <summary>The Ed25519 key imported once for NSec (a benign race at worst imports it twice).</summary>
    private NSec.Cryptography.PublicKey? _ed25519;
    private bool _ed25519Invalid;

    private PublicKey(KeyType type, byte[] data, byte[] encoded)
    {
        Type = type;
        _data = data;
        _encoded = encoded;
    }

    public KeyType Type { get; }

    /// <summary>The raw key bytes (Ed25519: 32 bytes).</summary>
    public ReadOnlySpan<byte> Data => _data;

    public static PublicKey FromEd25519(ReadOnlySpan<byte> rawKey)
    {
        if (rawKey.Length != 32)
            throw new ArgumentException("an Ed25519 public key has 32 bytes", nameof(rawKey));
        return Create(KeyType.Ed25519, rawKey.ToArray());
    }

    /// <summary>Decodes the protobuf encoding; throws <see cref="ProtocolViolationException"/> for bad bytes.</summary>
    public static PublicKey FromProtobuf(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length > MaxEncodedLength)
            throw new OversizedMessageException(ProtocolId, (ulong)encoded.Length, MaxEncodedLength);
        Pb.PublicKey message;
        try
        {
            message = Pb.PublicKey.Parser.ParseFrom(encoded);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(ProtocolId, "malformed public key: " + e.Message, e);
        }
        if (!message.HasType || !message.HasData)
            throw new ProtocolViolationException(ProtocolId, "public key lacks its type or data");
        if (!Enum.IsDefined((KeyType)message.Type))
            throw new ProtocolViolationException(ProtocolId, $"unknown key type {(int)message.Type}");
        KeyType type = (KeyType)message.Type;
        byte[] data = message.Data.ToByteArray();
        if (type == KeyType.Ed25519 && data.Length != 32)
            throw new ProtocolViolationException(ProtocolId, $"Ed25519 public key of {data.Length} bytes");
        PublicKey key = Create(type, data);
        // The encoding is part of the peer id: accept only the canonical form.
        if (!encoded.SequenceEqual(key._encoded))
            throw new ProtocolViolationException(ProtocolId, "public key is not canonically encoded");
        return key;
    }

    private static PublicKey Create(KeyType type, byte[] data)
    {
        Pb.PublicKey message = new() { Type = (Pb.KeyType)type, Data = ByteString.CopyFrom(data) };
        return new PublicKey(type, data, message.ToByteArray());
    }

    /// <summary>The canonical protobuf encoding (what peer ids, Noise and identify carry).</summary>
    public byte[] ToProtobuf() => (byte[])_encoded.Clone();

    internal ReadOnlySpan<byte> EncodedSpan => _encoded;

    public PeerId ToPeerId() => PeerId.FromPublicKey(this);

    /// <summary>Checks <paramref name="signature"/> over <paramref name="data"/>; false for a bad signature or an unsupported key type.</summary>
    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        switch (Type)
        {
            case KeyType.Ed25519:
                if (signature.Length != 64 || _ed25519Invalid)
                    return false;
                NSec.Cryptography.PublicKey? key = _ed25519;
                if (key is null)
                {
                    if (!NSec.Cryptography.PublicKey.TryImport(SignatureAlgorithm.Ed25519, _data, KeyBlobFormat.RawPublicKey,
                            out key) || key is null)
                    {
                        _ed25519Invalid = true;
                        return false;
                    }
                    _ed25519 = key;
                }
                return SignatureAlgorithm.Ed25519.Verify(key, data, signature);
            case KeyType.Ecdsa:
                try
                {
                    using ECDsa ecdsa = ECDsa.Create();
                    ecdsa.ImportSubjectPublicKeyInfo(_data, out _);
                    return ecdsa.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
                }
                catch (CryptographicException)
                {
                    return false;
                }
            default:
                return false;
        }
    }

    public bool Equals(PublicKey? other) => other is not null && _encoded.AsSpan().SequenceEqual(other._encoded);

    public override bool Equals(object? obj) => Equals(obj as PublicKey);

    public override int GetHashCode()
    {
        HashCode hash = new();
        hash.AddBytes(_encoded);
        return hash.ToHashCode();
    }

    public override string ToString() => $"{Type}:{Convert.ToHexStringLower(_data)}";
}
