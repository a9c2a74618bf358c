using System.Security.Cryptography;
using System.Text;
using CsCheck;
using Echo.Net.Noise;

namespace Echo.Net.Tests.Noise;

public class NoiseStateTests
{
    [Fact]
    public void Hkdf_Rfc5869Case3_FirstOutputsMatch()
    {
        // RFC 5869 A.3: empty salt (= HMAC key of zeros, like an all-zero chaining key) and empty info.
        byte[] ikm = Enumerable.Repeat((byte)0x0b, 22).ToArray();
        byte[] output1 = new byte[32];
        byte[] output2 = new byte[32];
        NoiseSymmetricState.Hkdf(new byte[32], ikm, output1, output2);
        Assert.Equal("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
            Convert.ToHexStringLower([.. output1, .. output2])[..84]);
    }

    [Fact]
    public void Hkdf_AnyInput_EqualsRfc5869WithChainingKeyAsSalt()
    {
        Gen.Select(Gen.Byte.Array[32], Gen.Byte.Array[0, 100]).Sample((chainingKey, ikm) =>
        {
            byte[] output1 = new byte[32];
            byte[] output2 = new byte[32];
            NoiseSymmetricState.Hkdf(chainingKey, ikm, output1, output2);
            byte[] expected = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, 64, chainingKey, []);
            return expected.AsSpan(0, 32).SequenceEqual(output1) && expected.AsSpan(32).SequenceEqual(output2);
        }, iter: 500);
    }

    [Fact]
    public void Hkdf_OutputIntoChainingKey_SameResult()
    {
        byte[] chainingKey = RandomNumberGenerator.GetBytes(32);
        byte[] ikm = RandomNumberGenerator.GetBytes(32);
        byte[] expected1 = new byte[32];
        byte[] expected2 = new byte[32];
        NoiseSymmetricState.Hkdf(chainingKey, ikm, expected1, expected2);
        byte[] output2 = new byte[32];
        NoiseSymmetricState.Hkdf(chainingKey, ikm, chainingKey, output2);   // what MixKey does
        Assert.Equal(expected1, chainingKey);
        Assert.Equal(expected2, output2);
    }

    [Fact]
    public void SymmetricState_ProtocolNameOf32Bytes_IsUsedAsHashUnhashed()
    {
        using NoiseSymmetricState state = new(NoiseHandshakeState.ProtocolName);
        byte[] name = Encoding.ASCII.GetBytes(NoiseHandshakeState.ProtocolName);
        Assert.Equal(32, name.Length);
        Assert.Equal(name, state.HandshakeHash.ToArray());
        Assert.Equal(name, state.ChainingKey.ToArray());
        Assert.False(state.Cipher.HasKey);
    }

    [Fact]
    public void SymmetricState_EmptyPrologue_StillChangesTheHash()
    {
        using NoiseSymmetricState state = new(NoiseHandshakeState.ProtocolName);
        state.MixHash([]);
        Assert.Equal(SHA256.HashData(Encoding.ASCII.GetBytes(NoiseHandshakeState.ProtocolName)), state.HandshakeHash.ToArray());
    }

    [Fact]
    public void SymmetricState_LongProtocolName_IsHashed()
    {
        const string name = "Noise_XXpsk3_25519_ChaChaPoly_SHA256";
        using NoiseSymmetricState state = new(name);
        Assert.Equal(SHA256.HashData(Encoding.ASCII.GetBytes(name)), state.HandshakeHash.ToArray());
    }

    [Fact]
    public void SymmetricState_EncryptAndHashWithoutKey_CopiesAndHashes()
    {
        using NoiseSymmetricState state = new(NoiseHandshakeState.ProtocolName);
        byte[] before = state.HandshakeHash.ToArray();
        byte[] output = new byte[5];
        Assert.Equal(5, state.EncryptAndHash("hello"u8, output));
        Assert.Equal("hello"u8.ToArray(), output);
        Assert.Equal(SHA256.HashData([.. before, .. "hello"u8]), state.HandshakeHash.ToArray());
    }

    [Fact]
    public void SymmetricState_DecryptAndHashTampered_ThrowsAndKeepsNonce()
    {
        using NoiseSymmetricState sender = new(NoiseHandshakeState.ProtocolName);
        using NoiseSymmetricState receiver = new(NoiseHandshakeState.ProtocolName);
        sender.MixKey(new byte[32]);
        receiver.MixKey(new byte[32]);
        byte[] ciphertext = new byte[3 + 16];
        sender.EncryptAndHash("abc"u8, ciphertext);
        ciphertext[1] ^= 1;
        Assert.Throws<NoiseHandshakeException>(() => receiver.DecryptAndHash(ciphertext, new byte[3]));
        Assert.Equal(0UL, receiver.Cipher.Nonce);
    }

    [Fact]
    public void SymmetricState_MixKey_ResetsTheNonce()
    {
        using NoiseSymmetricState state = new(NoiseHandshakeState.ProtocolName);
        state.MixKey([1]);
        state.EncryptAndHash([], new byte[16]);
        Assert.Equal(1UL, state.Cipher.Nonce);
        state.MixKey([2]);
        Assert.Equal(0UL, state.Cipher.Nonce);
    }

    [Fact]
    public void CipherState_Nonce_IsFourZeroBytesThenLittleEndianCounter()
    {
        byte[] key = RandomNumberGenerator.GetBytes(32);
        using NoiseCipherState state = new();
        state.InitializeKey(key);
        state.SetNonce(0x0102030405060708);
        byte[] ours = new byte[10 + 16];
        state.EncryptWithAd("ad"u8, "0123456789"u8, ours);

        byte[] nonce = Convert.FromHexString("000000000807060504030201");
        byte[] expected = new byte[10 + 16];
        using ChaCha20Poly1305 reference = new(key);
        reference.Encrypt(nonce, "0123456789"u8, expected.AsSpan(0, 10), expected.AsSpan(10), "ad"u8);
        Assert.Equal(expected, ours);
        Assert.Equal(0x0102030405060709UL, state.Nonce);
    }

    [Fact]
    public void CipherState_FailedDecrypt_DoesNotAdvanceNonceAndNextGoodOneWorks()
    {
        byte[] key = RandomNumberGenerator.GetBytes(32);
        using NoiseCipherState sender = new();
        using NoiseCipherState receiver = new();
        sender.InitializeKey(key);
        receiver.InitializeKey(key);
        byte[] ciphertext = new byte[4 + 16];
        sender.EncryptWithAd([], "ping"u8, ciphertext);
        byte[] tampered = (byte[])ciphertext.Clone();
        tampered[^1] ^= 0x80;
        byte[] plaintext = new byte[4];
        Assert.False(receiver.TryDecryptWithAd([], tampered, plaintext, out _));
        Assert.Equal(0UL, receiver.Nonce);
        Assert.True(receiver.TryDecryptWithAd([], ciphertext, plaintext, out int written));
        Assert.Equal("ping"u8.ToArray(), plaintext.AsSpan(0, written).ToArray());
        Assert.Equal(1UL, receiver.Nonce);
    }

    [Fact]
    public void CipherState_InPlace_RoundTrips()
    {
        byte[] key = RandomNumberGenerator.GetBytes(32);
        using NoiseCipherState sender = new();
        using NoiseCipherState receiver = new();
        sender.InitializeKey(key);
        receiver.InitializeKey(key);
        byte[] buffer = new byte[100 + 16];
        RandomNumberGenerator.Fill(buffer.AsSpan(0, 100));
        byte[] original = buffer[..100];
        sender.EncryptWithAd([], buffer.AsSpan(0, 100), buffer);
        Assert.NotEqual(original, buffer[..100]);
        Assert.True(receiver.TryDecrypt([], buffer.AsSpan(0, 100), buffer.AsSpan(100), buffer, out _));
        Assert.Equal(original, buffer[..100]);
    }

    [Fact]
    public void CipherState_ReservedNonce_RefusesBothWays()
    {
        using NoiseCipherState state = new();
        state.InitializeKey(new byte[32]);
        state.SetNonce(NoiseCipherState.MaxNonce - 1);
        state.EncryptWithAd([], [1], new byte[17]);
        Assert.True(state.IsExhausted);
        Assert.Throws<NoiseNonceExhaustedException>(() => state.EncryptWithAd([], [1], new byte[17]));
        Assert.False(state.TryDecryptWithAd([], new byte[17], new byte[1], out _));
        Assert.Equal(NoiseCipherState.MaxNonce, state.Nonce);
    }

    [Fact]
    public void HandshakeState_EmptyPrologue_IsMixedIntoTheHash()
    {
        // libp2p uses an empty prologue, and MixHash must still run: h = SHA256(protocol name).
        using NoiseHandshakeState state = new(true, [], NoiseHandshakeState.CreateKey());
        Assert.Equal(SHA256.HashData(Encoding.ASCII.GetBytes(NoiseHandshakeState.ProtocolName)), state.HandshakeHash.ToArray());
    }

    [Fact]
    public void HandshakeState_WrongTurn_IsRejected()
    {
        using NoiseHandshakeState initiator = new(true, [], NoiseHandshakeState.CreateKey());
        using NoiseHandshakeState responder = new(false, [], NoiseHandshakeState.CreateKey());
        Assert.Throws<InvalidOperationException>(() => responder.WriteMessage([]));
        Assert.Throws<InvalidOperationException>(() => initiator.ReadMessage(new byte[32]));
        Assert.Throws<InvalidOperationException>(() => initiator.Split());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    public void HandshakeState_ShortFirstMessage_Throws(int length)
    {
        using NoiseHandshakeState responder = new(false, [], NoiseHandshakeState.CreateKey());
        Assert.Throws<NoiseHandshakeException>(() => responder.ReadMessage(new byte[length]));
    }

    [Fact]
    public void HandshakeState_LowOrderEphemeral_Throws()
    {
        using NoiseHandshakeState initiator = new(true, [], NoiseHandshakeState.CreateKey());
        initiator.WriteMessage([]);
        // A responder whose e is the all-zero point: the ee DH yields zeros, which must be refused.
        byte[] message2 = new byte[32 + 48 + 16];
        Assert.Throws<NoiseHandshakeException>(() => initiator.ReadMessage(message2));
    }
}
