using System.Security.Cryptography;
using System.Text;

namespace Echo.Net.Noise;

/// <summary>
/// The Noise <c>SymmetricState</c> (noise.md §5.2) with SHA-256: the chaining key <c>ck</c>, the
/// handshake hash <c>h</c> and the handshake <see cref="NoiseCipherState"/>.
/// </summary>
internal sealed class NoiseSymmetricState : IDisposable
{
    public const int HashLength = 32;

    private readonly byte[] _chainingKey = new byte[HashLength];
    private readonly byte[] _hash = new byte[HashLength];
    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    /// <summary>
    /// <c>InitializeSymmetric(protocol_name)</c>: a name of at most 32 bytes is used as <c>h</c>
    /// padded with zeros ("Noise_XX_25519_ChaChaPoly_SHA256" is exactly 32), a longer one is hashed;
    /// <c>ck = h</c>; the cipher starts without a key.
    /// </summary>
    public NoiseSymmetricState(string protocolName)
    {
        byte[] name = Encoding.ASCII.GetBytes(protocolName);
        if (name.Length <= HashLength)
            name.CopyTo(_hash, 0);
        else
            SHA256.HashData(name, _hash);
        _hash.CopyTo(_chainingKey, 0);
    }

    public NoiseCipherState Cipher { get; } = new();

    /// <summary><c>h</c>: after the handshake, the channel-binding handshake hash.</summary>
    public ReadOnlySpan<byte> HandshakeHash => _hash;

    internal ReadOnlySpan<byte> ChainingKey => _chainingKey;

    /// <summary><c>MixKey</c>: <c>ck, k = HKDF(ck, input)</c>; the cipher restarts at nonce 0.</summary>
    public void MixKey(ReadOnlySpan<byte> inputKeyMaterial)
    {
        Span<byte> key = stackalloc byte[HashLength];
        Hkdf(_chainingKey, inputKeyMaterial, _chainingKey, key);
        Cipher.InitializeKey(key);
        CryptographicOperations.ZeroMemory(key);
    }

    /// <summary><c>MixHash</c>: <c>h = SHA256(h || data)</c>. Called even for empty data (an empty prologue).</summary>
    public void MixHash(ReadOnlySpan<byte> data)
    {
        _sha256.AppendData(_hash);
        _sha256.AppendData(data);
        _sha256.GetHashAndReset(_hash);
    }

    /// <summary><c>EncryptAndHash</c>: encrypts with <c>h</c> as associated data, then mixes the ciphertext into <c>h</c>.</summary>
    public int EncryptAndHash(ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        int written = Cipher.EncryptWithAd(_hash, plaintext, destination);
        MixHash(destination[..written]);
        return written;
    }

    /// <summary><c>DecryptAndHash</c>; throws <see cref="NoiseHandshakeException"/> when the message fails authentication.</summary>
    public int DecryptAndHash(ReadOnlySpan<byte> ciphertext, Span<byte> destination)
    {
        if (!Cipher.TryDecryptWithAd(_hash, ciphertext, destination, out int written))
            throw new NoiseHandshakeException("handshake message failed authentication");
        MixHash(ciphertext);
        return written;
    }

    /// <summary>
    /// <c>Split</c>: <c>k1, k2 = HKDF(ck, "")</c>. The initiator sends with the first state and
    /// receives with the second; the responder the reverse.
    /// </summary>
    public (NoiseCipherState First, NoiseCipherState Second) Split()
    {
        Span<byte> k1 = stackalloc byte[HashLength];
        Span<byte> k2 = stackalloc byte[HashLength];
        Hkdf(_chainingKey, [], k1, k2);
        NoiseCipherState first = new();
        NoiseCipherState second = new();
        first.InitializeKey(k1);
        second.InitializeKey(k2);
        CryptographicOperations.ZeroMemory(k1);
        CryptographicOperations.ZeroMemory(k2);
        return (first, second);
    }

    /// <summary>
    /// Noise's two-output <c>HKDF(chaining_key, input_key_material)</c> (noise.md §4.3) with
    /// HMAC-SHA256: <c>t = HMAC(ck, ikm)</c>, <c>o1 = HMAC(t, 0x01)</c>, <c>o2 = HMAC(t, o1 || 0x02)</c>.
    /// <paramref name="output1"/> may be <paramref name="chainingKey"/> itself.
    /// </summary>
    internal static void Hkdf(ReadOnlySpan<byte> chainingKey, ReadOnlySpan<byte> inputKeyMaterial, Span<byte> output1,
        Span<byte> output2)
    {
        Span<byte> tempKey = stackalloc byte[HashLength];
        Span<byte> block = stackalloc byte[HashLength + 1];
        ReadOnlySpan<byte> one = [0x01];
        HMACSHA256.HashData(chainingKey, inputKeyMaterial, tempKey);
        HMACSHA256.HashData(tempKey, one, block[..HashLength]);      // o1, kept in the block for o2
        block[HashLength] = 0x02;
        HMACSHA256.HashData(tempKey, block, output2);
        block[..HashLength].CopyTo(output1);
        CryptographicOperations.ZeroMemory(tempKey);
        CryptographicOperations.ZeroMemory(block);
    }

    public void Dispose()
    {
        Cipher.Dispose();
        _sha256.Dispose();
        CryptographicOperations.ZeroMemory(_chainingKey);
    }
}
