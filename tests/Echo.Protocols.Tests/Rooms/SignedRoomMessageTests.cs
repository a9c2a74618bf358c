using Echo.Core.Chat;
using Echo.Net.Pubsub;
using Echo.Protocols.Rooms;

namespace Echo.Protocols.Tests.Rooms;

/// <summary>
/// A stored or fetched room message becomes a message again only when its author's pubsub signature
/// holds for its room and its JSON names the signer; messages are signed by a real router on 127.0.0.1.
/// </summary>
public sealed class SignedRoomMessageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly DateTimeOffset Written = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);

    private static async Task<PubsubMessage> SignAsync(Libp2pChatNetwork author, string senderId, string text, DateTimeOffset when) =>
        await author.Router.PublishAsync("chat-room:lobby", RoomMessageCodec.Encode(text, senderId, "alice", when), Ct);

    [Fact(Timeout = 30_000)]
    public async Task Open_GenuineMessage_GivesItsIdAuthorNickTextAndTime()
    {
        await using Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        PubsubMessage signed = await SignAsync(alice, alice.LocalPeerId, "hello", Written);

        ChatMessage? opened = SignedRoomMessage.Open("lobby", SignedRoomMessage.Envelope(signed), DateTimeOffset.UnixEpoch, out string? error);

        Assert.Null(error);
        Assert.NotNull(opened);
        Assert.Equal(SignedRoomMessage.MessageId(alice.Id(), signed.Seqno), opened.Id);
        Assert.Equal(("lobby", alice.LocalPeerId, "alice", "hello", Written, MessageOrigin.Room),
            (opened.Room, opened.SenderId, opened.SenderNick, opened.Text, opened.Timestamp, opened.Origin));
        Assert.True(SignedRoomMessage.Verify(opened));
    }

    [Fact(Timeout = 30_000)]
    public async Task Open_AnotherRoom_SignatureDoesNotVerify()
    {
        await using Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        PubsubMessage signed = await SignAsync(alice, alice.LocalPeerId, "hello", Written);

        Assert.Null(SignedRoomMessage.Open("other", SignedRoomMessage.Envelope(signed), Written, out string? error));
        Assert.Equal("signature does not verify", error);
    }

    [Fact(Timeout = 30_000)]
    public async Task Open_DataChangedUnderTheSignature_IsRejected()
    {
        await using Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        SignedEnvelope envelope = SignedRoomMessage.Envelope(await SignAsync(alice, alice.LocalPeerId, "hello", Written));
        SignedEnvelope altered = envelope with { Data = RoomMessageCodec.Encode("send me your keys", alice.LocalPeerId, "alice", Written) };

        Assert.Null(SignedRoomMessage.Open("lobby", altered, Written, out string? error));
        Assert.Equal("signature does not verify", error);
    }

    [Fact(Timeout = 30_000)]
    public async Task Open_SenderIdNotTheSigner_IsRejected()
    {
        await using Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork mallory = await TestNetworks.StartAsync();
        PubsubMessage signed = await SignAsync(mallory, alice.LocalPeerId, "i am alice", Written);

        Assert.Null(SignedRoomMessage.Open("lobby", SignedRoomMessage.Envelope(signed), Written, out string? error));
        Assert.Equal("SenderID is not the signed author", error);
    }

    [Fact(Timeout = 30_000)]
    public async Task Verify_MessageWhoseTextDiffersFromItsEnvelope_IsFalse()
    {
        await using Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        PubsubMessage signed = await SignAsync(alice, alice.LocalPeerId, "hello", Written);
        ChatMessage opened = SignedRoomMessage.Open("lobby", SignedRoomMessage.Envelope(signed), Written, out _)!;

        Assert.False(SignedRoomMessage.Verify(opened with { Text = "goodbye" }));
        Assert.False(SignedRoomMessage.Verify(opened with { Envelope = null }));
    }
}
