using Echo.Net.Identity;
using Google.Protobuf;
using KeyPb = Echo.Net.Identity.Pb;

namespace Echo.Net.Tests.Identity;

/// <summary>L-public-key: an encoded public key of at most 2048 bytes and a key file of at most 256 bytes decode; one byte more is refused.</summary>
public sealed class KeyLengthLimitTests
{
    [Fact]
    public void PublicKey_AtTheLimitDecodes_OneByteMoreIsRefusedAsOversized()
    {
        Assert.Equal(2048, PublicKey.MaxEncodedLength);
        byte[] atLimit = RsaKeyOfEncodedLength(PublicKey.MaxEncodedLength);
        PublicKey key = PublicKey.FromProtobuf(atLimit);
        Assert.Equal(KeyType.Rsa, key.Type);
        Assert.Equal(atLimit, key.ToProtobuf());

        byte[] over = RsaKeyOfEncodedLength(PublicKey.MaxEncodedLength + 1);
        Assert.Throws<OversizedMessageException>(() => PublicKey.FromProtobuf(over));
    }

    [Fact]
    public void KeyPair_EncodingPaddedToTheLimitLoads_OneByteMoreIsRefusedAsOversized()
    {
        const int MaxKeyFileLength = 256;
        using KeyPair original = KeyPair.Generate();
        byte[] atLimit = PadWithUnknownField(original.ToProtobuf(), MaxKeyFileLength);
        using KeyPair loaded = KeyPair.FromProtobuf(atLimit);
        Assert.Equal(original.PeerId, loaded.PeerId);

        byte[] over = PadWithUnknownField(original.ToProtobuf(), MaxKeyFileLength + 1);
        Assert.Throws<OversizedMessageException>(() => KeyPair.FromProtobuf(over));
    }

    /// <summary>A canonical <c>PublicKey { Type = RSA, Data = n bytes }</c> whose encoding is exactly <paramref name="length"/> bytes.</summary>
    private static byte[] RsaKeyOfEncodedLength(int length)
    {
        // 08 00 (type RSA) 12 <2-byte varint length> <data>
        int dataLength = length - 5;
        byte[] data = new byte[dataLength];
        Array.Fill(data, (byte)0x5A);
        byte[] encoded = new KeyPb.PublicKey { Type = KeyPb.KeyType.Rsa, Data = ByteString.CopyFrom(data) }.ToByteArray();
        Assert.Equal(length, encoded.Length);
        return encoded;
    }

    /// <summary>Appends an unknown length-delimited field 15 so the message is exactly <paramref name="length"/> bytes.</summary>
    private static byte[] PadWithUnknownField(byte[] encoded, int length)
    {
        // tag 0x7A, a 2-byte varint length, the padding
        int padding = length - encoded.Length - 3;
        Assert.InRange(padding, 128, 16383);
        byte[] result = new byte[length];
        encoded.CopyTo(result, 0);
        result[encoded.Length] = 0x7A;
        result[encoded.Length + 1] = (byte)(0x80 | (padding & 0x7F));
        result[encoded.Length + 2] = (byte)(padding >> 7);
        return result;
    }
}
