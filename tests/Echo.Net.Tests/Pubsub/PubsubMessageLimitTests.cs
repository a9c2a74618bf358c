using Echo.Net.Identity;
using Echo.Net.Pubsub;
using Google.Protobuf;
using Wire = Echo.Net.Pubsub.Pb;

namespace Echo.Net.Tests.Pubsub;

/// <summary>L-pubsub-message: a topic of at most 1024 characters and a signature of at most 1024 bytes are looked at; longer ones are refused before any check.</summary>
public sealed class PubsubMessageLimitTests
{
    [Fact]
    public void TryValidate_TopicAtTheLimitIsValid_OneCharacterMoreIsBadTopic()
    {
        Assert.Equal(1024, PubsubMessage.MaxTopicLength);
        using KeyPair author = KeyPair.Generate();
        Wire.Message atLimit = PubsubMessage.Sign(author, new string('t', PubsubMessage.MaxTopicLength), "x"u8.ToArray(), 1, includeKey: false).ToPb();
        Assert.Equal(SignatureStatus.Valid, PubsubMessage.TryValidate(atLimit, out PubsubMessage? accepted));
        Assert.NotNull(accepted);

        Wire.Message over = PubsubMessage.Sign(author, new string('t', PubsubMessage.MaxTopicLength + 1), "x"u8.ToArray(), 1, includeKey: false).ToPb();
        Assert.Equal(SignatureStatus.BadTopic, PubsubMessage.TryValidate(over, out PubsubMessage? refused));
        Assert.Null(refused);
    }

    [Fact]
    public void TryValidate_SignatureAtTheLimitIsLookedPast_OneByteMoreIsBadSignature()
    {
        Assert.Equal(1024, PubsubMessage.MaxSignatureLength);
        using KeyPair author = KeyPair.Generate();
        Wire.Message atLimit = PubsubMessage.Sign(author, "room", "x"u8.ToArray(), 1, includeKey: false).ToPb();
        atLimit.Signature = ByteString.CopyFrom(new byte[PubsubMessage.MaxSignatureLength]);
        // A bad author is checked only after the signature's length: at the limit the message gets
        // that far (BadFrom); one byte more and it is refused for its signature first.
        atLimit.From = ByteString.CopyFrom(1, 2, 3);
        Assert.Equal(SignatureStatus.BadFrom, PubsubMessage.TryValidate(atLimit, out PubsubMessage? notVerified));
        Assert.Null(notVerified);

        Wire.Message over = atLimit.Clone();
        over.Signature = ByteString.CopyFrom(new byte[PubsubMessage.MaxSignatureLength + 1]);
        Assert.Equal(SignatureStatus.BadSignature, PubsubMessage.TryValidate(over, out PubsubMessage? refused));
        Assert.Null(refused);
    }
}
