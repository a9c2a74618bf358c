using Echo.Net.Noise;
using NSec.Cryptography;

namespace Echo.Net.Tests.Noise;

/// <summary>
/// <c>Noise_XX_25519_ChaChaPoly_SHA256</c> test vectors, run through the generic state machine
/// byte-exact: prologue, a payload in msg1, all three handshake messages, the handshake hash and
/// three transport messages after <c>Split</c> (messages alternate initiator, responder, ...).
/// Only this protocol's entries are kept, from mcginty/snow <c>tests/vectors/</c>:
/// <c>cacophony.txt</c> (prologue "John Galt") and <c>noise-c-basic.txt</c> (prologue "Prologue123").
/// Both use the same keys and payloads. The <c>handshake_hash</c> of cacophony.txt follows another
/// convention than noise.md's final <c>h</c> (snow does not check it, and it disagrees for NN too),
/// so only noise-c's hash is asserted; an independent Python recomputation agrees with noise-c.
/// </summary>
public class NoiseVectorTests
{
    private const string InitiatorStatic = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
    private const string InitiatorEphemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
    private const string ResponderStatic = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
    private const string ResponderEphemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";

    private static readonly string[] Payloads =
    [
        "4c756477696720766f6e204d69736573",
        "4d757272617920526f746862617264",
        "462e20412e20486179656b",
        "4361726c204d656e676572",
        "4a65616e2d426170746973746520536179",
        "457567656e2042f6686d20766f6e2042617765726b",
    ];

    public static TheoryData<string, string, string?, string[]> Vectors => new()
    {
        {
            "cacophony", "4a6f686e2047616c74", null,
            [
                "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573",
                "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2b65285e08d6b68aaa3629a5a8639392490e5b9bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c412f8a0db50f8814c7194e83f23dbd8d162c9326ad",
                "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9df0f169ae80a89be0865b57f58c9fea0d4ec82a286427402f113e4b6ae769a1d95941d49b25030",
                "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df",
                "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5",
                "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f",
            ]
        },
        {
            "noise-c-basic", "50726f6c6f677565313233", "852a28d2146785c54bd8334f4e460c80d7fe4fd0cc5bc0abef2a24a3c4d44d5f",
            [
                "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573",
                "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2b65285e08d6b68aaa3629a5a8639392490e5b94a6d8798832d5372f220f161d9c2df035528f8982ffe09be9b5c412f8a0db5d21351f20af1370d0bf8ef1a8c59a30e",
                "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a8589981dfbd651e6ff4724a781cc2aa6158c9fea0d4ec82a286427484c5b8c8123a7a6002b1de9f9775fc97",
                "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df",
                "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5",
                "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f",
            ]
        },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void XX_Vector_MatchesByteExact(string source, string prologueHex, string? handshakeHash, string[] ciphertexts)
    {
        Assert.NotEmpty(source);
        byte[] prologue = Convert.FromHexString(prologueHex);
        using NoiseHandshakeState initiator = new(true, prologue, Import(InitiatorStatic), Import(InitiatorEphemeral));
        using NoiseHandshakeState responder = new(false, prologue, Import(ResponderStatic), Import(ResponderEphemeral));

        for (int i = 0; i < 3; i++)
        {
            (NoiseHandshakeState writer, NoiseHandshakeState reader) = i % 2 == 0 ? (initiator, responder) : (responder, initiator);
            byte[] payload = Convert.FromHexString(Payloads[i]);
            byte[] message = writer.WriteMessage(payload);
            Assert.Equal(ciphertexts[i], Convert.ToHexStringLower(message));
            Assert.Equal(payload, reader.ReadMessage(message));
        }

        Assert.True(initiator.IsComplete && responder.IsComplete);
        Assert.Equal(initiator.HandshakeHash.ToArray(), responder.HandshakeHash.ToArray());
        if (handshakeHash is not null)
            Assert.Equal(handshakeHash, Convert.ToHexStringLower(initiator.HandshakeHash));
        Assert.Equal(PublicOf(ResponderStatic), initiator.RemoteStaticPublicKey.ToArray());
        Assert.Equal(PublicOf(InitiatorStatic), responder.RemoteStaticPublicKey.ToArray());

        (NoiseCipherState initiatorSend, NoiseCipherState initiatorReceive) = initiator.Split();
        (NoiseCipherState responderSend, NoiseCipherState responderReceive) = responder.Split();
        for (int i = 3; i < ciphertexts.Length; i++)
        {
            (NoiseCipherState send, NoiseCipherState receive) =
                i % 2 == 0 ? (initiatorSend, responderReceive) : (responderSend, initiatorReceive);
            byte[] payload = Convert.FromHexString(Payloads[i]);
            byte[] ciphertext = new byte[payload.Length + NoiseCipherState.TagLength];
            Assert.Equal(ciphertext.Length, send.EncryptWithAd([], payload, ciphertext));
            Assert.Equal(ciphertexts[i], Convert.ToHexStringLower(ciphertext));
            byte[] decrypted = new byte[payload.Length];
            Assert.True(receive.TryDecryptWithAd([], ciphertext, decrypted, out int written));
            Assert.Equal(payload, decrypted.AsSpan(0, written).ToArray());
        }
    }

    private static Key Import(string hex) => NoiseHandshakeState.ImportKey(Convert.FromHexString(hex));

    private static byte[] PublicOf(string privateHex)
    {
        using Key key = Import(privateHex);
        return key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }
}
