using Echo.Net.Identity;

namespace Echo.Net.Noise;

/// <summary>
/// The remote broke the Noise handshake: a message failed authentication, was too short, or its
/// payload did not prove the identity it claims (missing, malformed, unsupported key type, or a
/// signature that does not cover the static key of this handshake). The connection is dropped.
/// </summary>
public sealed class NoiseHandshakeException(string message, Exception? inner = null)
    : ProtocolViolationException(NoiseHandshake.ProtocolId, message, inner);

/// <summary>
/// The remote authenticated as a different peer than the one we dialled (the <c>/p2p/</c> part of the
/// address). Raised by the initiator before it sends its last handshake message.
/// </summary>
public sealed class PeerIdMismatchException(PeerId expected, PeerId actual)
    : ProtocolViolationException(NoiseHandshake.ProtocolId, $"expected {expected}, got {actual}")
{
    public PeerId Expected { get; } = expected;

    public PeerId Actual { get; } = actual;
}

/// <summary>
/// Our send nonce reached 2^64-1, which Noise reserves: the channel must close rather than reuse a
/// nonce (noise.md §5.1, §11.1). Practically unreachable; kept so the limit is enforced.
/// </summary>
internal sealed class NoiseNonceExhaustedException()
    : InvalidOperationException($"{NoiseHandshake.ProtocolId}: send nonce exhausted; the connection must be closed");
