using System.IO.Pipelines;
using System.Security.Cryptography;
using Echo.Net.Identity;
using Echo.Net.Noise;
using Google.Protobuf;

namespace Echo.Net.Tests.Noise;

/// <summary>How a <see cref="BadNoisePeer"/> spoils its handshake payload.</summary>
public enum Tamper
{
    /// <summary>An honest payload.</summary>
    None,
    /// <summary>A correct signature with one bit flipped.</summary>
    BadSignature,
    /// <summary>A valid signature, but over a different X25519 key than the one in the handshake.</summary>
    SignatureOverOtherStaticKey,
    /// <summary>Claims a victim's identity key while signing with its own.</summary>
    ClaimsOtherIdentity,
    /// <summary>An empty payload (no identity at all).</summary>
    MissingPayload,
    /// <summary>An identity key but no signature.</summary>
    MissingSignature,
    /// <summary>A secp256k1 identity key (we accept Ed25519 only).</summary>
    UnsupportedKeyType,
    /// <summary>Bytes that are not a protobuf.</summary>
    MalformedPayload,
    /// <summary>An identity_key field that is not a valid encoded key.</summary>
    MalformedIdentityKey,
}

/// <summary>
/// A test-only Noise peer that runs the XX handshake with our own state machine but sends a
/// tampered payload, and can pipeline extra bytes right after its last handshake message.
/// </summary>
internal sealed class BadNoisePeer(KeyPair identity, Tamper tamper)
{
    // A secp256k1 public key from the peer-id spec vectors.
    private static readonly byte[] Secp256k1Key =
        Convert.FromHexString("08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99");

    private static readonly KeyPair Victim = KeyPair.Generate();

    public byte[] CreatePayload(ReadOnlySpan<byte> staticKey)
    {
        byte[] signature = identity.Sign(NoiseHandshake.SignedData(staticKey));
        Echo.Net.Noise.Pb.NoiseHandshakePayload payload = new()
        {
            IdentityKey = ByteString.CopyFrom(identity.PublicKey.ToProtobuf()),
            IdentitySig = ByteString.CopyFrom(signature),
        };
        switch (tamper)
        {
            case Tamper.None:
                break;
            case Tamper.BadSignature:
                signature[17] ^= 0x04;
                payload.IdentitySig = ByteString.CopyFrom(signature);
                break;
            case Tamper.SignatureOverOtherStaticKey:
                payload.IdentitySig = ByteString.CopyFrom(identity.Sign(NoiseHandshake.SignedData(RandomNumberGenerator.GetBytes(32))));
                break;
            case Tamper.ClaimsOtherIdentity:
                payload.IdentityKey = ByteString.CopyFrom(Victim.PublicKey.ToProtobuf());
                break;
            case Tamper.MissingPayload:
                return [];
            case Tamper.MissingSignature:
                payload.ClearIdentitySig();
                break;
            case Tamper.UnsupportedKeyType:
                payload.IdentityKey = ByteString.CopyFrom(Secp256k1Key);
                break;
            case Tamper.MalformedPayload:
                return [0x0a, 0xff, 0xff, 0xff];
            case Tamper.MalformedIdentityKey:
                payload.IdentityKey = ByteString.CopyFrom([0x08, 0x01, 0x12, 0x05, 1, 2, 3, 4, 5]);
                break;
        }
        return payload.ToByteArray();
    }

    /// <summary>
    /// Plays the responder: reads msg1, sends msg2 followed by <paramref name="trailing"/> in the same
    /// flush, and returns the handshake state (the test decides whether msg3 ever arrives).
    /// </summary>
    public async Task<NoiseHandshakeState> RespondAsync(IDuplexPipe connection, byte[] trailing, CancellationToken cancellationToken)
    {
        NoiseHandshakeState state = new(initiator: false, prologue: [], NoiseHandshakeState.CreateKey());
        state.ReadMessage(await NoiseHandshake.ReadMessageAsync(connection.Input, cancellationToken));
        byte[] message2 = state.WriteMessage(CreatePayload(state.LocalStaticPublicKey));
        await WriteAsync(connection.Output, message2, trailing, cancellationToken);
        return state;
    }

    /// <summary>
    /// Plays the initiator: sends msg1, reads msg2, then sends msg3 and, in the same flush, whatever
    /// <paramref name="trailing"/> makes of the transport ciphers (early data).
    /// </summary>
    public async Task InitiateAsync(IDuplexPipe connection, Func<NoiseCipherState, byte[]> trailing,
        CancellationToken cancellationToken)
    {
        using NoiseHandshakeState state = new(initiator: true, prologue: [], NoiseHandshakeState.CreateKey());
        await NoiseHandshake.WriteMessageAsync(connection.Output, state.WriteMessage([]), cancellationToken);
        state.ReadMessage(await NoiseHandshake.ReadMessageAsync(connection.Input, cancellationToken));
        byte[] message3 = state.WriteMessage(CreatePayload(state.LocalStaticPublicKey));
        (NoiseCipherState send, NoiseCipherState receive) = state.Split();
        using (send)
        using (receive)
            await WriteAsync(connection.Output, message3, trailing(send), cancellationToken);
    }

    private static async Task WriteAsync(PipeWriter output, byte[] message, byte[] trailing, CancellationToken cancellationToken)
    {
        byte[] frame = new byte[2 + message.Length];
        frame[0] = (byte)(message.Length >> 8);
        frame[1] = (byte)message.Length;
        message.CopyTo(frame, 2);
        byte[] bytes = [.. frame, .. trailing];
        await output.WriteAsync(bytes, cancellationToken);
    }
}
