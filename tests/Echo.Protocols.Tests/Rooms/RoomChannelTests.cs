using Echo.Net.Pubsub;
using Echo.Protocols.Rooms;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Protocols.Tests.Rooms;

/// <summary>A room message is decoded once, by the topic's validator, and handed on with the message.</summary>
public sealed class RoomChannelTests
{
    private const string Topic = "chat-room:lobby";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A message <paramref name="author"/> signs for the lobby while in no room (so no validator of ours sees it).</summary>
    private static Task<PubsubMessage> SignAsync(Libp2pChatNetwork author, string text, string senderId) =>
        author.Router.PublishAsync(Topic, RoomMessageCodec.Encode(text, senderId, "alice", DateTimeOffset.UtcNow), Ct);

    [Fact(Timeout = 30_000)]
    public async Task TheValidator_KeepsWhatItDecoded_AndThePumpTakesThatVeryCopy()
    {
        await using Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        PubsubMessage message = await SignAsync(alice, "hello", alice.LocalPeerId);
        Assert.Null(message.ValidatorData);

        Assert.Equal(ValidationResult.Accept, RoomChannel.Validate(Topic, message, NullLogger.Instance));
        RoomMessage kept = Assert.IsType<RoomMessage>(message.ValidatorData);
        Assert.Equal("hello", kept.Text);
        Assert.Same(kept, RoomChannel.Decoded(Topic, message, NullLogger.Instance));
    }

    [Fact(Timeout = 30_000)]
    public async Task ACopyTheValidatorDidNotSee_IsCheckedAtThePump_AndAForgedSenderIsDropped()
    {
        await using Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork mallory = await TestNetworks.StartAsync();
        PubsubMessage genuine = await SignAsync(alice, "hello", alice.LocalPeerId);
        PubsubMessage forged = await SignAsync(mallory, "i am alice", alice.LocalPeerId);

        Assert.Equal("hello", RoomChannel.Decoded(Topic, genuine, NullLogger.Instance)?.Text);
        Assert.Null(RoomChannel.Decoded(Topic, forged, NullLogger.Instance));
        Assert.Equal(ValidationResult.Reject, RoomChannel.Validate(Topic, forged, NullLogger.Instance));
        Assert.Null(forged.ValidatorData);
    }

    [Fact(Timeout = 60_000)]
    public async Task ARoomMessageFromAPeer_ReachesTheSubscribers_WithWhatTheValidatorDecoded()
    {
        await using Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork bob = await TestNetworks.StartAsync();
        await alice.JoinRoomAsync("lobby", Ct);
        await bob.JoinRoomAsync("lobby", Ct);
        await using PubsubSubscription watching = bob.Router.Subscribe(Topic);
        await bob.ConnectAsync(alice.ListenAddresses[0], Ct);
        await TestNetworks.InTopicAsync(alice, bob);

        await alice.PublishAsync("lobby", "alice", "decoded once", Ct);
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TestNetworks.Wait);
        PubsubMessage arrived = await watching.Messages.ReadAsync(deadline.Token);
        Assert.Equal("decoded once", Assert.IsType<RoomMessage>(arrived.ValidatorData).Text);
    }
}
