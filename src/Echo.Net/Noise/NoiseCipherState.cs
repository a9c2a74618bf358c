using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Echo.Net.Noise;

/// <summary>
/// The Noise <c>CipherState</c> (noise.md §5.1) for ChaChaPoly: a 32-byte key and a 64-bit nonce.
/// One <see cref="ChaCha20Poly1305"/> instance lives as long as the key, so the transport phase
/// encrypts and decrypts without allocating.
/// </summary>
/// <remarks>
/// <code>
///   nonce (12 bytes) = 00 00 00 00 || n as 64-bit little-endian      (noise.md §12.3)
///   ciphertext       = encrypted plaintext || 16-byte Poly1305 tag
/// </code>
/// A failed decryption leaves <see cref="Nonce"/> unchanged. The nonce 2^64-1 is reserved, so a
/// state whose nonce reaches it refuses to encrypt or decrypt; the owner closes the connection.
/// </remarks>
internal sealed class NoiseCipherState : IDisposable
{
    public const int KeyLength = 32;
    public const int TagLength = 16;
    public const ulong MaxNonce = ulong.MaxValue;
    private const int NonceLength = 12;

    private ChaCha20Poly1305? _aead;

    public bool HasKey => _aead is not null;

    /// <summary>The nonce the next message uses.</summary>
    public ulong Nonce { get; private set; }

    /// <summary>True once the nonce reached the reserved value 2^64-1: no more messages either way.</summary>
    public bool IsExhausted => Nonce == MaxNonce;

    public void InitializeKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeyLength)
            throw new ArgumentException($"a ChaChaPoly key has {KeyLength} bytes", nameof(key));
        _aead?.Dispose();
        _aead = new ChaCha20Poly1305(key);
        Nonce = 0;
    }

    /// <summary>Noise <c>SetNonce</c>; tests use it to start near the 2^64-1 limit.</summary>
    public void SetNonce(ulong nonce) => Nonce = nonce;

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> into <paramref name="destination"/> (plaintext length +
    /// <see cref="TagLength"/> bytes) and returns the bytes written. Without a key the plaintext is
    /// copied unchanged, as noise.md specifies. <paramref name="plaintext"/> may be the first bytes
    /// of <paramref name="destination"/> (in place), but must not overlap it otherwise.
    /// </summary>
    public int EncryptWithAd(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        if (_aead is null)
        {
            plaintext.CopyTo(destination);
            return plaintext.Length;
        }
        if (IsExhausted)
            throw new NoiseNonceExhaustedException();
        Span<byte> nonce = stackalloc byte[NonceLength];
        WriteNonce(nonce, Nonce);
        _aead.Encrypt(nonce, plaintext, destination[..plaintext.Length],
            destination.Slice(plaintext.Length, TagLength), associatedData);
        Nonce++;
        return plaintext.Length + TagLength;
    }

    /// <summary>
    /// Decrypts <paramref name="ciphertext"/> (encrypted bytes || tag) into <paramref name="destination"/>.
    /// Returns false, without advancing the nonce, when the tag does not verify; the caller treats
    /// that as a protocol violation. Without a key the bytes are copied unchanged.
    /// </summary>
    public bool TryDecryptWithAd(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> ciphertext, Span<byte> destination,
        out int written)
    {
        if (_aead is null)
        {
            ciphertext.CopyTo(destination);
            written = ciphertext.Length;
            return true;
        }
        written = 0;
        if (ciphertext.Length < TagLength)
            return false;
        int length = ciphertext.Length - TagLength;
        return TryDecrypt(associatedData, ciphertext[..length], ciphertext[length..], destination[..length], out written);
    }

    /// <summary>
    /// Decrypts a message whose encrypted bytes and tag arrived apart (a frame that spanned buffer
    /// segments). <paramref name="encrypted"/> may be <paramref name="destination"/> itself (in place).
    /// </summary>
    public bool TryDecrypt(ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> encrypted, ReadOnlySpan<byte> tag,
        Span<byte> destination, out int written)
    {
        written = 0;
        if (_aead is null)
            throw new InvalidOperationException("no key: use TryDecryptWithAd before the first MixKey");
        if (IsExhausted)
            return false;
        Span<byte> nonce = stackalloc byte[NonceLength];
        WriteNonce(nonce, Nonce);
        try
        {
            _aead.Decrypt(nonce, encrypted, tag, destination[..encrypted.Length], associatedData);
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
        Nonce++;
        written = encrypted.Length;
        return true;
    }

    internal static void WriteNonce(Span<byte> nonce, ulong n)
    {
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], n);
    }

    public void Dispose()
    {
        _aead?.Dispose();
        _aead = null;
    }
}
