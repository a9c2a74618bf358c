using System.Buffers;
using System.Security.Cryptography;
using NSec.Cryptography;

namespace Echo.Net.Noise;

/// <summary>The message-pattern tokens of noise.md §7 (no PSK: libp2p does not use one).</summary>
internal enum NoiseToken
{
    E,
    S,
    EE,
    ES,
    SE,
    SS,
}

/// <summary>
/// The Noise <c>HandshakeState</c> (noise.md §5.3) for <c>Noise_XX_25519_ChaChaPoly_SHA256</c>. The
/// tokens are processed generically, so the same code passes the Noise test vectors (any prologue,
/// any payloads) and runs the libp2p handshake.
/// </summary>
/// <remarks>
/// <code>
///   XX (noise.md §7.5):   -> e
///                         &lt;- e, ee, s, es
///                         -> s, se
/// </code>
/// XX has no pre-messages. After the last message <see cref="Split"/> yields the transport ciphers.
/// </remarks>
internal sealed class NoiseHandshakeState : IDisposable
{
    public const string ProtocolName = "Noise_XX_25519_ChaChaPoly_SHA256";
    public const int DhLength = 32;

    /// <summary>A Noise message is at most 65535 bytes (noise.md §3), which the 2-byte libp2p length prefix also caps.</summary>
    public const int MaxMessageLength = 65535;

    private static readonly NoiseToken[][] XX =
    [
        [NoiseToken.E],
        [NoiseToken.E, NoiseToken.EE, NoiseToken.S, NoiseToken.ES],
        [NoiseToken.S, NoiseToken.SE],
    ];

    private static readonly KeyAgreementAlgorithm X25519 = KeyAgreementAlgorithm.X25519;

    private readonly bool _initiator;
    private readonly NoiseSymmetricState _symmetric = new(ProtocolName);
    private readonly Key _localStatic;
    private readonly byte[] _localStaticPublic;
    private Key? _localEphemeral;
    private NSec.Cryptography.PublicKey? _remoteEphemeral;
    private NSec.Cryptography.PublicKey? _remoteStatic;
    private byte[]? _remoteStaticBytes;
    private int _messageIndex;

    /// <param name="localStatic">Our X25519 static key; the state takes ownership.</param>
    /// <param name="localEphemeral">A fixed ephemeral key (test vectors only); normally null, and a fresh one is made.</param>
    public NoiseHandshakeState(bool initiator, ReadOnlySpan<byte> prologue, Key localStatic, Key? localEphemeral = null)
    {
        if (localStatic.Algorithm != X25519 || (localEphemeral is not null && localEphemeral.Algorithm != X25519))
            throw new ArgumentException("Noise keys must be X25519 keys");
        _initiator = initiator;
        _localStatic = localStatic;
        _localStaticPublic = localStatic.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        _localEphemeral = localEphemeral;
        _symmetric.MixHash(prologue);
    }

    public bool IsInitiator => _initiator;

    public bool IsComplete => _messageIndex == XX.Length;

    /// <summary>True when the next message is ours to write.</summary>
    public bool IsMyTurn => !IsComplete && (_messageIndex % 2 == 0) == _initiator;

    public ReadOnlySpan<byte> LocalStaticPublicKey => _localStaticPublic;

    /// <summary>The remote's X25519 static key (<c>rs</c>) once its <c>s</c> token was read.</summary>
    public ReadOnlySpan<byte> RemoteStaticPublicKey => _remoteStaticBytes;

    public ReadOnlySpan<byte> HandshakeHash => _symmetric.HandshakeHash;

    /// <summary>Creates a fresh X25519 key (the libp2p static key is made per handshake and never stored).</summary>
    public static Key CreateKey() => Key.Create(X25519);

    /// <summary>Imports a raw 32-byte X25519 private key (test vectors).</summary>
    public static Key ImportKey(ReadOnlySpan<byte> privateKey) => Key.Import(X25519, privateKey, KeyBlobFormat.RawPrivateKey);

    /// <summary><c>WriteMessage(payload)</c>: the next handshake message, carrying <paramref name="payload"/>.</summary>
    public byte[] WriteMessage(ReadOnlySpan<byte> payload)
    {
        if (!IsMyTurn)
            throw new InvalidOperationException(IsComplete ? "the handshake is complete" : "it is the remote's turn to write");
        ArrayBufferWriter<byte> message = new(256);
        foreach (NoiseToken token in XX[_messageIndex])
        {
            switch (token)
            {
                case NoiseToken.E:
                    _localEphemeral ??= CreateKey();
                    byte[] ephemeral = _localEphemeral.PublicKey.Export(KeyBlobFormat.RawPublicKey);
                    message.Write(ephemeral);
                    _symmetric.MixHash(ephemeral);
                    break;
                case NoiseToken.S:
                    EncryptAndHash(message, _localStaticPublic);
                    break;
                default:
                    MixDh(token);
                    break;
            }
        }
        EncryptAndHash(message, payload);
        if (message.WrittenCount > MaxMessageLength)
            throw new ArgumentException($"a handshake message may not exceed {MaxMessageLength} bytes", nameof(payload));
        _messageIndex++;
        return message.WrittenSpan.ToArray();
    }

    /// <summary>
    /// <c>ReadMessage(message)</c>: processes the remote's next handshake message and returns its
    /// payload. Throws <see cref="NoiseHandshakeException"/> for a short, unauthentic or degenerate message.
    /// </summary>
    public byte[] ReadMessage(ReadOnlySpan<byte> message)
    {
        if (IsComplete || IsMyTurn)
            throw new InvalidOperationException(IsComplete ? "the handshake is complete" : "it is our turn to write");
        if (message.Length > MaxMessageLength)
            throw new OversizedMessageException(NoiseHandshake.ProtocolId, (ulong)message.Length, MaxMessageLength);
        int messageNumber = _messageIndex + 1;
        foreach (NoiseToken token in XX[_messageIndex])
        {
            switch (token)
            {
                case NoiseToken.E:
                    ReadOnlySpan<byte> ephemeral = Take(ref message, DhLength, messageNumber);
                    _remoteEphemeral = ImportPublicKey(ephemeral);
                    _symmetric.MixHash(ephemeral);
                    break;
                case NoiseToken.S:
                    int length = DhLength + (_symmetric.Cipher.HasKey ? NoiseCipherState.TagLength : 0);
                    ReadOnlySpan<byte> encrypted = Take(ref message, length, messageNumber);
                    byte[] remoteStatic = new byte[DhLength];
                    _symmetric.DecryptAndHash(encrypted, remoteStatic);
                    _remoteStaticBytes = remoteStatic;
                    _remoteStatic = ImportPublicKey(remoteStatic);
                    break;
                default:
                    MixDh(token);
                    break;
            }
        }
        if (_symmetric.Cipher.HasKey && message.Length < NoiseCipherState.TagLength)
            throw new NoiseHandshakeException($"handshake message {messageNumber} is too short for its payload tag");
        byte[] payload = new byte[_symmetric.Cipher.HasKey ? message.Length - NoiseCipherState.TagLength : message.Length];
        _symmetric.DecryptAndHash(message, payload);
        _messageIndex++;
        return payload;
    }

    /// <summary>
    /// <c>Split()</c>, already assigned to directions: the initiator sends with the first cipher
    /// and receives with the second, the responder the reverse. The caller owns both.
    /// </summary>
    public (NoiseCipherState Send, NoiseCipherState Receive) Split()
    {
        if (!IsComplete)
            throw new InvalidOperationException("the handshake is not complete");
        (NoiseCipherState first, NoiseCipherState second) = _symmetric.Split();
        return _initiator ? (first, second) : (second, first);
    }

    private void EncryptAndHash(ArrayBufferWriter<byte> message, ReadOnlySpan<byte> plaintext)
    {
        int length = plaintext.Length + (_symmetric.Cipher.HasKey ? NoiseCipherState.TagLength : 0);
        int written = _symmetric.EncryptAndHash(plaintext, message.GetSpan(length));
        message.Advance(written);
    }

    private void MixDh(NoiseToken token)
    {
        // es: the initiator's e with the responder's s; se: the initiator's s with the responder's e.
        (Key? local, NSec.Cryptography.PublicKey? remote) = token switch
        {
            NoiseToken.EE => (_localEphemeral, _remoteEphemeral),
            NoiseToken.ES => _initiator ? (_localEphemeral, _remoteStatic) : (_localStatic, _remoteEphemeral),
            NoiseToken.SE => _initiator ? (_localStatic, _remoteEphemeral) : (_localEphemeral, _remoteStatic),
            NoiseToken.SS => (_localStatic, _remoteStatic),
            _ => throw new InvalidOperationException($"{token} is not a DH token"),
        };
        if (local is null || remote is null)
            throw new InvalidOperationException($"{token} before both keys are known");
        SharedSecretCreationParameters exportable = new() { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
        using SharedSecret? secret = X25519.Agree(local, remote, exportable);
        // NSec refuses an all-zero result, i.e. a low-order point from the remote (noise.md §12.1 allows rejecting it).
        if (secret is null)
            throw new NoiseHandshakeException("the remote's X25519 key is a low-order point");
        byte[] shared = secret.Export(SharedSecretBlobFormat.RawSharedSecret);
        _symmetric.MixKey(shared);
        CryptographicOperations.ZeroMemory(shared);
    }

    private static NSec.Cryptography.PublicKey ImportPublicKey(ReadOnlySpan<byte> key) =>
        NSec.Cryptography.PublicKey.TryImport(X25519, key, KeyBlobFormat.RawPublicKey, out NSec.Cryptography.PublicKey? imported)
        && imported is not null
            ? imported
            : throw new NoiseHandshakeException("the remote sent an invalid X25519 public key");

    private static ReadOnlySpan<byte> Take(ref ReadOnlySpan<byte> message, int length, int messageNumber)
    {
        if (message.Length < length)
            throw new NoiseHandshakeException($"handshake message {messageNumber} is too short");
        ReadOnlySpan<byte> taken = message[..length];
        message = message[length..];
        return taken;
    }

    public void Dispose()
    {
        _symmetric.Dispose();
        _localStatic.Dispose();
        _localEphemeral?.Dispose();
    }
}
