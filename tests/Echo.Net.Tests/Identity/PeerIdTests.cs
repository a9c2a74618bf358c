using CsCheck;
using Echo.Net.Identity;

namespace Echo.Net.Tests.Identity;

public class PeerIdTests
{
    private const string Ed25519PrivateKey =
        "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    private const string Ed25519PublicKey = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";

    [Theory]                                   // public-key vectors from peer-ids/peer-ids.md, peer ids derived
    [InlineData(Ed25519PublicKey, "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")]
    [InlineData("08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99",
        "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY")]
    [InlineData("0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c47c646a597fb4dcec034e9f77c409e62",
        "QmVMT29id3TUASyfZZ6k9hmNyc2nYabCo4uMSpDw4zrgDk")]
    public void FromPublicKey_SpecVector_DerivesPeerIdAndReencodes(string keyHex, string expected)
    {
        byte[] encoded = Convert.FromHexString(keyHex);
        PublicKey key = PublicKey.FromProtobuf(encoded);
        Assert.Equal(encoded, key.ToProtobuf());
        PeerId id = key.ToPeerId();
        Assert.Equal(expected, id.ToString());
        Assert.Equal(encoded.Length <= 42, id.Bytes[0] == 0x00);       // identity iff key <= 42 bytes
        Assert.Equal(id, PeerId.Parse(expected));
        Assert.Equal(id, PeerId.FromBytes(id.ToBytes()));
    }

    [Fact]
    public void Ed25519PrivateKeyVector_DerivesThePublicKeyAndReencodes()
    {
        byte[] encoded = Convert.FromHexString(Ed25519PrivateKey);
        using KeyPair pair = KeyPair.FromProtobuf(encoded);
        Assert.Equal(Convert.FromHexString(Ed25519PublicKey), pair.PublicKey.ToProtobuf());
        Assert.Equal(encoded, pair.ToProtobuf());
        Assert.Equal("0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
            Convert.ToHexStringLower(pair.PeerId.Bytes));
    }

    [Theory]
    [InlineData("bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6", "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")]
    [InlineData("bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")]
    public void Parse_CidV1_EqualsBase58Form(string cid, string base58)
    {
        PeerId fromCid = PeerId.Parse(cid);
        Assert.Equal(base58, fromCid.ToString());
        Assert.Equal(cid, fromCid.ToCidString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("12D3KooW")]
    [InlineData("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p0")]   // '0' is not base58
    [InlineData("hello")]
    [InlineData("12D3\u00fc")]                                                   // non-ASCII
    [InlineData("b\u00e9\u00e9")]
    [InlineData("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi")] // a CID, but not libp2p-key
    public void TryParse_NotAPeerId_FailsWithReason(string text)
    {
        Assert.False(PeerId.TryParse(text, out _, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
        Assert.Throws<FormatException>(() => PeerId.Parse(text));
    }

    [Fact]
    public void Generate_SignAndVerify_RoundTrips()
    {
        using KeyPair pair = KeyPair.Generate();
        byte[] signature = pair.Sign("hello"u8);
        Assert.True(pair.PublicKey.Verify("hello"u8, signature));
        Assert.False(pair.PublicKey.Verify("hellO"u8, signature));
        Assert.StartsWith("12D3KooW", pair.PeerId.ToString());
        Assert.Equal(pair.PublicKey, pair.PeerId.TryGetPublicKey());
        Assert.True(pair.PeerId.Matches(pair.PublicKey));
    }

    [Fact]
    public void FromBytes_RandomAndMutatedInput_OnlyProtocolViolations()
    {
        using KeyPair pair = KeyPair.Generate();
        byte[] valid = pair.PeerId.ToBytes();
        Gen<byte[]> mutated = Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Byte, (i, x) =>
        {
            byte[] copy = (byte[])valid.Clone();
            copy[i] ^= x;
            return copy;
        });
        Gen.OneOf(Gen.Byte.Array[0, 50], mutated).Sample(bytes =>
        {
            try
            {
                PeerId id = PeerId.FromBytes(bytes);
                Assert.Equal(bytes, id.ToBytes());                       // accepted => canonical
                Assert.Equal(id, PeerId.Parse(id.ToString()));
            }
            catch (ProtocolViolationException)
            {
            }
        }, iter: 100_000);
    }

    [Fact]
    public void PublicKeyFromProtobuf_RandomBytes_OnlyProtocolViolations()
    {
        Gen.Byte.Array[0, 80].Sample(bytes =>
        {
            try
            {
                Assert.Equal(bytes, PublicKey.FromProtobuf(bytes).ToProtobuf());
            }
            catch (ProtocolViolationException)
            {
            }
        }, iter: 100_000);
    }

    [Fact]
    public void TryParse_RandomText_NeverThrows()
    {
        Gen.String[Gen.OneOf(Gen.Char["123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0bQm"], Gen.Char), 0, 80].Sample(text =>
        {
            if (PeerId.TryParse(text, out PeerId? id))
                Assert.NotNull(id);
        }, iter: 100_000);
    }

    [Fact]
    public void KeyPairFromProtobuf_MismatchedPublicHalf_Throws()
    {
        byte[] encoded = Convert.FromHexString(Ed25519PrivateKey);
        encoded[^1] ^= 1;
        Assert.Throws<ProtocolViolationException>(() => KeyPair.FromProtobuf(encoded));
    }
}
