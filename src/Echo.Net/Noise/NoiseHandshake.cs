using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using Echo.Net.Identity;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using PublicKey = Echo.Net.Identity.PublicKey;

namespace Echo.Net.Noise;

/// <summary>
/// The libp2p Noise handshake, <c>/noise</c> (https://github.com/libp2p/specs/blob/master/noise/README.md):
/// <c>Noise_XX_25519_ChaChaPoly_SHA256</c> with an empty prologue, run right after multistream-select
/// picked <c>/noise</c>. The dialer is the initiator.
/// </summary>
/// <remarks>
/// <code>
///   every message:   uint16 big-endian length || Noise message (&lt;= 65535 bytes)
///
///   msg1  I -> R     e                                          32 bytes, empty payload
///   msg2  R -> I     e || enc(s) || enc(payload)                32 + 48 + payload + 16
///   msg3  I -> R     enc(s) || enc(payload)                     48 + payload + 16
///
///   payload = NoiseHandshakePayload { identity_key = encoded PublicKey,
///                                     identity_sig = Sign("noise-libp2p-static-key:" || static X25519 key) }
/// </code>
/// Each side proves that its identity key signed the X25519 static key carried by its own <c>s</c>
/// token. We accept Ed25519 identities only (an RSA key would let an unauthenticated peer make us
/// verify expensive signatures), make a fresh static key per handshake, and never send
/// <c>stream_muxers</c>: yamux is negotiated with multistream afterwards. Only the handshake frames
/// are consumed from the connection; bytes pipelined after them belong to the secure channel.
/// </remarks>
internal static class NoiseHandshake
{
    public const string ProtocolId = "/noise";

    /// <summary>The 2-byte length prefix caps every Noise message at 65535 bytes.</summary>
    public const int MaxMessageLength = NoiseHandshakeState.MaxMessageLength;

    private const int LengthPrefixSize = 2;
    private static readonly byte[] SignaturePrefix = Encoding.UTF8.GetBytes("noise-libp2p-static-key:");

    /// <summary>
    /// Runs the handshake as the initiator (dialer). When <paramref name="expectedRemote"/> is given,
    /// a responder that authenticates as anyone else fails with <see cref="PeerIdMismatchException"/>
    /// before our last message (and so our identity) is sent. <paramref name="checkRemote"/>, when
    /// given, sees the authenticated remote at that same point and may throw to abandon the
    /// handshake: the responder then never completes a connection.
    /// </summary>
    public static async Task<NoiseSecureChannel> InitiateAsync(IDuplexPipe connection, KeyPair identity, PeerId? expectedRemote,
        ILogger logger, CancellationToken cancellationToken, Action<PeerId>? checkRemote = null)
    {
        using NoiseHandshakeState state = new(initiator: true, prologue: [], NoiseHandshakeState.CreateKey());
        try
        {
            await WriteMessageAsync(connection.Output, state.WriteMessage([]), cancellationToken).ConfigureAwait(false);
            byte[] message2 = await ReadMessageAsync(connection.Input, cancellationToken).ConfigureAwait(false);
            byte[] payload = state.ReadMessage(message2);
            PublicKey remoteKey = VerifyPayload(payload, state.RemoteStaticPublicKey);
            PeerId remotePeer = remoteKey.ToPeerId();
            if (expectedRemote is not null && remotePeer != expectedRemote)
                throw new PeerIdMismatchException(expectedRemote, remotePeer);
            checkRemote?.Invoke(remotePeer);
            byte[] message3 = state.WriteMessage(CreatePayload(identity, state.LocalStaticPublicKey));
            await WriteMessageAsync(connection.Output, message3, cancellationToken).ConfigureAwait(false);
            return Complete(connection, state, remoteKey, remotePeer, logger);
        }
        catch (ProtocolViolationException e)
        {
            Log.HandshakeFailed(logger, "initiator", e.Message);
            throw;
        }
    }

    /// <summary>Runs the handshake as the responder (listener); the initiator's identity is learnt, not checked.</summary>
    public static async Task<NoiseSecureChannel> RespondAsync(IDuplexPipe connection, KeyPair identity, ILogger logger,
        CancellationToken cancellationToken)
    {
        using NoiseHandshakeState state = new(initiator: false, prologue: [], NoiseHandshakeState.CreateKey());
        try
        {
            // msg1's payload is unencrypted and empty from every libp2p implementation; it only enters h.
            byte[] message1 = await ReadMessageAsync(connection.Input, cancellationToken).ConfigureAwait(false);
            state.ReadMessage(message1);
            byte[] message2 = state.WriteMessage(CreatePayload(identity, state.LocalStaticPublicKey));
            await WriteMessageAsync(connection.Output, message2, cancellationToken).ConfigureAwait(false);
            byte[] message3 = await ReadMessageAsync(connection.Input, cancellationToken).ConfigureAwait(false);
            byte[] payload = state.ReadMessage(message3);
            PublicKey remoteKey = VerifyPayload(payload, state.RemoteStaticPublicKey);
            return Complete(connection, state, remoteKey, remoteKey.ToPeerId(), logger);
        }
        catch (ProtocolViolationException e)
        {
            Log.HandshakeFailed(logger, "responder", e.Message);
            throw;
        }
    }

    private static NoiseSecureChannel Complete(IDuplexPipe connection, NoiseHandshakeState state, PublicKey remoteKey,
        PeerId remotePeer, ILogger logger)
    {
        (NoiseCipherState send, NoiseCipherState receive) = state.Split();
        Log.HandshakeCompleted(logger, state.IsInitiator ? "initiator" : "responder", remotePeer);
        return new NoiseSecureChannel(connection, send, receive, remoteKey, logger);
    }

    /// <summary>Our handshake payload: the identity key and its signature over our static X25519 key.</summary>
    internal static byte[] CreatePayload(KeyPair identity, ReadOnlySpan<byte> staticPublicKey)
    {
        Pb.NoiseHandshakePayload payload = new()
        {
            IdentityKey = ByteString.CopyFrom(identity.PublicKey.ToProtobuf()),
            IdentitySig = ByteString.CopyFrom(identity.Sign(SignedData(staticPublicKey))),
        };
        return payload.ToByteArray();
    }

    /// <summary>The bytes an identity key signs: <c>"noise-libp2p-static-key:" || static key</c>.</summary>
    internal static byte[] SignedData(ReadOnlySpan<byte> staticPublicKey) => [.. SignaturePrefix, .. staticPublicKey];

    /// <summary>
    /// Checks the remote's payload against the static key <paramref name="remoteStatic"/> it actually
    /// sent in this handshake and returns its identity key. Extensions are ignored.
    /// </summary>
    internal static PublicKey VerifyPayload(ReadOnlySpan<byte> payload, ReadOnlySpan<byte> remoteStatic)
    {
        Pb.NoiseHandshakePayload message;
        try
        {
            message = Pb.NoiseHandshakePayload.Parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new NoiseHandshakeException("malformed handshake payload: " + e.Message, e);
        }
        if (!message.HasIdentityKey || !message.HasIdentitySig)
            throw new NoiseHandshakeException("the handshake payload lacks identity_key or identity_sig");
        PublicKey key;
        try
        {
            key = PublicKey.FromProtobuf(message.IdentityKey.Span);
        }
        catch (ProtocolViolationException e)
        {
            throw new NoiseHandshakeException("invalid identity_key: " + e.Message, e);
        }
        if (key.Type != KeyType.Ed25519)
            throw new NoiseHandshakeException($"{key.Type} identity keys are not accepted, only Ed25519");
        if (!key.Verify(SignedData(remoteStatic), message.IdentitySig.Span))
            throw new NoiseHandshakeException("identity_sig does not sign this handshake's static key");
        return key;
    }

    /// <summary>Writes one length-prefixed handshake message and flushes.</summary>
    internal static async ValueTask WriteMessageAsync(PipeWriter output, ReadOnlyMemory<byte> message,
        CancellationToken cancellationToken)
    {
        if (message.Length > MaxMessageLength)
            throw new ArgumentException($"a Noise message may not exceed {MaxMessageLength} bytes", nameof(message));
        Span<byte> span = output.GetSpan(LengthPrefixSize + message.Length);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)message.Length);
        message.Span.CopyTo(span[LengthPrefixSize..]);
        output.Advance(LengthPrefixSize + message.Length);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads exactly one length-prefixed handshake message, consuming nothing after it. The 16-bit
    /// prefix bounds the allocation at 65535 bytes, made only once the whole message is buffered.
    /// </summary>
    internal static async ValueTask<byte[]> ReadMessageAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (NoiseSecureChannel.TryReadFrameLength(buffer, out int length) && buffer.Length >= LengthPrefixSize + length)
            {
                ReadOnlySequence<byte> message = buffer.Slice(LengthPrefixSize, length);
                byte[] bytes = message.ToArray();
                input.AdvanceTo(message.End);
                return bytes;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
                throw new UnexpectedEndException(ProtocolId);
            if (result.IsCanceled)
                throw new OperationCanceledException("the read of a Noise handshake message was canceled");
        }
    }
}
