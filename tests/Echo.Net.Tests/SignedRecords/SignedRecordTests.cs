using Echo.Net.Identity;
using Echo.Net.Records;

namespace Echo.Net.Tests.SignedRecords;

public sealed class SignedRecordTests
{
    private static readonly byte[] Type = "/test/1"u8.ToArray();
    private static readonly byte[] Payload = "payload"u8.ToArray();

    [Fact]
    public void Seal_then_Open_gives_the_key_type_and_payload()
    {
        using KeyPair key = KeyPair.Generate();
        SignedRecord record = SignedRecord.Open(SignedRecord.Seal(key, "echo-test", Type, Payload), "echo-test");
        Assert.Equal(key.PeerId, record.Signer);
        Assert.Equal(Type, record.PayloadType);
        Assert.Equal(Payload, record.Payload);
    }

    [Fact]
    public void A_signature_is_valid_only_under_its_own_domain()
    {
        using KeyPair key = KeyPair.Generate();
        byte[] sealedRecord = SignedRecord.Seal(key, "echo-test", Type, Payload);
        Assert.Throws<ProtocolViolationException>(() => SignedRecord.Open(sealedRecord, "echo-other"));
    }

    [Fact]
    public void A_record_whose_key_was_swapped_does_not_verify()
    {
        using KeyPair signer = KeyPair.Generate();
        using KeyPair other = KeyPair.Generate();
        Echo.Net.Records.Envelope envelope = Echo.Net.Records.Envelope.Parser.ParseFrom(SignedRecord.Seal(signer, "echo-test", Type, Payload));
        envelope.PublicKey = Google.Protobuf.ByteString.CopyFrom(other.PublicKey.ToProtobuf());
        Assert.Throws<ProtocolViolationException>(() => SignedRecord.Open(Google.Protobuf.MessageExtensions.ToByteArray(envelope), "echo-test"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("libp2p-peer-record")]
    public void Domains_that_are_empty_or_libp2ps_own_are_refused(string domain)
    {
        using KeyPair key = KeyPair.Generate();
        Assert.Throws<ArgumentException>(() => SignedRecord.Seal(key, domain, Type, Payload));
    }
}
