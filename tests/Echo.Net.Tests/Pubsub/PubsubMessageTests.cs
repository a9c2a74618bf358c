using System.Text;
using CsCheck;
using Echo.Net.Identity;
using Echo.Net.Pubsub;
using Google.Protobuf;
using Wire = Echo.Net.Pubsub.Pb;

namespace Echo.Net.Tests.Pubsub;

public class PubsubMessageTests
{
    // Made by @libp2p/gossipsub 17.1.1 (its RPC.Message encoder and @libp2p/crypto Ed25519) for the key with
    // seed 00 01 .. 1f, topic "test", data "hello", seqno 1, the key field set as js always sets it.
    private const string VectorPeer = "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB";
    private const string VectorSigned =
        "6c69627032702d7075627375623a" +                                   // "libp2p-pubsub:"
        "0a26" + "00240801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8" + // from
        "1205" + "68656c6c6f" +                                             // data "hello"
        "1a08" + "0000000000000001" +                                       // seqno 1
        "2204" + "74657374";                                                // topic "test"
    private const string VectorSignature =
        "25798bac7502ea4535890726aea496f45b4511b37f6ad61a6c6497c96c6bc5ead341e436f1cb60662afddeaf96ca4df08f1f90a5277962c9b900f5f345970b09";
    private const string VectorKey = "0801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";

    private static KeyPair VectorKeyPair() => KeyPair.FromSeed([.. Enumerable.Range(0, 32).Select(i => (byte)i)]);

    [Fact]
    public void Sign_SpecVectorMadeByJs_SameBytesAndSignature()
    {
        using KeyPair key = VectorKeyPair();
        Assert.Equal(VectorPeer, key.PeerId.ToString());
        PubsubMessage message = PubsubMessage.Sign(key, "test", "hello"u8.ToArray(), 1, includeKey: true);
        Assert.Equal(VectorSigned, Convert.ToHexStringLower(message.GetSignedBytes()));
        Assert.Equal(VectorSignature, Convert.ToHexStringLower(message.Signature.Span));
        string full = VectorSigned["6c69627032702d7075627375623a".Length..] + "2a40" + VectorSignature + "3224" + VectorKey;
        Assert.Equal(full, Convert.ToHexStringLower(message.ToProtobuf()));
    }

    [Fact]
    public void TryFromProtobuf_JsVector_Verifies()
    {
        string full = VectorSigned["6c69627032702d7075627375623a".Length..] + "2a40" + VectorSignature + "3224" + VectorKey;
        Assert.True(PubsubMessage.TryFromProtobuf(Convert.FromHexString(full), out PubsubMessage? message, out string? error), error);
        Assert.Equal(VectorPeer, message!.From.ToString());
        Assert.Equal(1UL, message.Seqno);
        Assert.Equal("test", message.Topic);
        Assert.Equal("hello", Encoding.UTF8.GetString(message.Data.Span));
        Assert.Equal(VectorKey, Convert.ToHexStringLower(message.Key!.Value.Span));
    }

    [Fact]
    public void Verify_StoredFields_AcceptsGoodRejectsTampered()
    {
        using KeyPair key = KeyPair.Generate();
        PubsubMessage m = PubsubMessage.Sign(key, "room", "hi there"u8.ToArray(), 42, includeKey: false);
        Assert.Null(m.Key);
        Assert.True(PubsubMessage.Verify(m.From.Bytes, m.Data.Span, m.SeqnoBytes(), m.Topic, m.Signature.Span, default, out string? error), error);
        Assert.False(PubsubMessage.Verify(m.From.Bytes, "hi therE"u8, m.SeqnoBytes(), m.Topic, m.Signature.Span, default, out error));
        Assert.Equal("signature does not verify", error);
        Assert.False(PubsubMessage.Verify(m.From.Bytes, m.Data.Span, m.SeqnoBytes(), "room2", m.Signature.Span, default, out _));
        Assert.True(PubsubMessage.TryFromProtobuf(m.ToProtobuf(), out PubsubMessage? again, out _));
        Assert.Equal(m.Signature.ToArray(), again!.Signature.ToArray());
        Assert.Null(again.Key);
        Assert.Equal(m.ToProtobuf(), again.ToProtobuf());
    }

    [Fact]
    public void MessageIds_GoAndJsFunctions_DifferByTheMultihashPrefix()
    {
        using KeyPair key = VectorKeyPair();
        PubsubMessage m = PubsubMessage.Sign(key, "test", "hello"u8.ToArray(), 1, includeKey: false);
        string from = "00240801122003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
        Assert.Equal(from + "0000000000000001", Convert.ToHexStringLower(PubsubMessageIds.FromAndSeqno(m)));
        Assert.Equal(VectorKey + "0000000000000001", Convert.ToHexStringLower(PubsubMessageIds.KeyAndSeqno(m)));
    }

    public static TheoryData<string, string> Tamperings => new()
    {
        { "no from", nameof(SignatureStatus.MissingFrom) },
        { "bad from", nameof(SignatureStatus.BadFrom) },
        { "no seqno", nameof(SignatureStatus.MissingSeqno) },
        { "7-byte seqno", nameof(SignatureStatus.BadSeqno) },
        { "9-byte seqno", nameof(SignatureStatus.BadSeqno) },
        { "no topic", nameof(SignatureStatus.MissingTopic) },
        { "unsigned", nameof(SignatureStatus.MissingSignature) },
        { "key of another peer", nameof(SignatureStatus.KeyMismatch) },
        { "garbage key", nameof(SignatureStatus.BadKey) },
        { "from of another peer", nameof(SignatureStatus.BadSignature) },
        { "from another peer, its key", nameof(SignatureStatus.BadSignature) },
        { "other topic", nameof(SignatureStatus.BadSignature) },
        { "data absent", nameof(SignatureStatus.BadSignature) },
        { "signature of other bytes", nameof(SignatureStatus.BadSignature) },
    };

    [Theory]
    [MemberData(nameof(Tamperings))]
    public void TryValidate_Tampered_Rejected(string tampering, string expected)
    {
        using KeyPair author = KeyPair.Generate();
        using KeyPair other = KeyPair.Generate();
        Wire.Message pb = PubsubMessage.Sign(author, "room", "payload"u8.ToArray(), 7, includeKey: true).ToPb();
        switch (tampering)
        {
            case "no from": pb.ClearFrom(); break;
            case "bad from": pb.From = ByteString.CopyFrom(1, 2, 3); break;
            case "no seqno": pb.ClearSeqno(); break;
            case "7-byte seqno": pb.Seqno = ByteString.CopyFrom(new byte[7]); break;
            case "9-byte seqno": pb.Seqno = ByteString.CopyFrom(new byte[9]); break;
            case "no topic": pb.ClearTopic(); break;
            case "unsigned": pb.ClearSignature(); break;
            case "key of another peer": pb.Key = ByteString.CopyFrom(other.PublicKey.ToProtobuf()); break;
            case "garbage key": pb.Key = ByteString.CopyFrom(0x08, 0x01); break;
            case "from of another peer": pb.From = ByteString.CopyFrom(other.PeerId.Bytes); pb.ClearKey(); break;
            case "from another peer, its key":
                pb.From = ByteString.CopyFrom(other.PeerId.Bytes);
                pb.Key = ByteString.CopyFrom(other.PublicKey.ToProtobuf());
                break;
            case "other topic": pb.Topic = "room2"; break;
            case "data absent": pb.ClearData(); break;
            case "signature of other bytes": pb.Signature = ByteString.CopyFrom(author.Sign("libp2p-pubsub:"u8)); break;
        }
        Assert.Equal(expected, PubsubMessage.TryValidate(pb, out PubsubMessage? message).ToString());
        Assert.Null(message);
    }

    [Fact]
    public void TryValidate_AnyFlippedBitInSignedFieldsSignatureOrKey_Rejected()
    {
        using KeyPair author = KeyPair.Generate();
        PubsubMessage original = PubsubMessage.Sign(author, "room", "some chat text"u8.ToArray(), 1234567, includeKey: true);
        Wire.Message good = original.ToPb();
        Assert.Equal(SignatureStatus.Valid, PubsubMessage.TryValidate(good, out _));
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, 1023], Gen.Int[0, 7]).Sample((field, index, bit) =>
        {
            Wire.Message pb = good.Clone();
            byte[] Flip(ByteString b)
            {
                byte[] bytes = b.ToByteArray();
                bytes[index % bytes.Length] ^= (byte)(1 << bit);
                return bytes;
            }
            switch (field)
            {
                case 0: pb.From = ByteString.CopyFrom(Flip(pb.From)); break;
                case 1: pb.Data = ByteString.CopyFrom(Flip(pb.Data)); break;
                case 2: pb.Seqno = ByteString.CopyFrom(Flip(pb.Seqno)); break;
                case 3: pb.Topic = Encoding.Latin1.GetString(Flip(ByteString.CopyFromUtf8(pb.Topic))); break;
                case 4: pb.Signature = ByteString.CopyFrom(Flip(pb.Signature)); break;
                default: pb.Key = ByteString.CopyFrom(Flip(pb.Key)); break;
            }
            return PubsubMessage.TryValidate(pb, out PubsubMessage? m) != SignatureStatus.Valid && m is null;
        }, iter: 2_000);
    }
}
