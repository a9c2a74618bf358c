using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests.Limits;

/// <summary>The chat's documented bounds (docs/LIMITS.md) at their default values: just under is kept, just over is refused or forgets the oldest.</summary>
public sealed class CoreLimitsTests
{
    private const string Me = "12D3KooWMe00000000000000000000000000000000000000000";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string PeerId(int i) => "12D3KooWPeer" + i.ToString("D39", System.Globalization.CultureInfo.InvariantCulture);

    [Fact(Timeout = 10_000)]
    public async Task RoomName_OfTheLimitIsJoined_OneCharacterMoreIsRefused()
    {
        FakeChatNetwork network = new();
        await using ChatManager manager = new(network, new ChatOptions { Nick = "me" }, NullLogger<ChatManager>.Instance);
        using ChatSubscription events = manager.Subscribe();
        await manager.StartAsync(Ct);
        string atLimit = new('r', 64);
        string overLimit = new('o', 65);

        await manager.SubmitAsync("/join " + overLimit, Ct);
        ErrorEvent error = await events.NextAsync<ErrorEvent>();
        await manager.SubmitAsync("/join " + atLimit, Ct);

        Assert.Equal(64, ChatLimits.MaxRoomLength);
        Assert.Contains("room name is 65 characters; the limit is 64", error.Message);
        Assert.Equal(["lobby", atLimit], network.Joined);
        Assert.Equal(atLimit, manager.CurrentRoom);
    }

    [Fact]
    public void Subscriber_KeepsTenThousandEvents_AndALaggingViewLosesTheOldest()
    {
        int capacity = new ChatOptions { Nick = "me" }.SubscriberCapacity;
        using ChatSubscription subscription = new(capacity, _ => { });
        for (int i = 0; i < 10_000; i++)
            subscription.Post(new NoticeEvent(i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(10_000, subscription.Events.Count);

        subscription.Post(new NoticeEvent("10000"));

        Assert.Equal(10_000, subscription.Events.Count);
        Assert.True(subscription.Events.TryRead(out ChatEvent? oldest));
        Assert.Equal("1", Assert.IsType<NoticeEvent>(oldest).Text);   // "0" was dropped, not the newest
    }

    [Fact]
    public void SeenIds_RememberAHundredThousand_AndForgetTheOldestAfterThat()
    {
        BoundedIdSet seen = new(new ChatOptions { Nick = "me" }.SeenMessageIds);
        for (int i = 0; i < 100_000; i++)
            Assert.True(seen.Add("m:" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.True(seen.Contains("m:0"));
        Assert.False(seen.Add("m:0"));   // still a duplicate at the bound

        Assert.True(seen.Add("m:100000"));

        Assert.False(seen.Contains("m:0"));
        Assert.True(seen.Contains("m:1"));
        Assert.True(seen.Contains("m:100000"));
    }

    [Fact]
    public void Nicks_AHundredThousandAreKept_AStrangerMoreForgetsTheOldestUnannounced()
    {
        PeerDirectory directory = new(() => Me, _ => { });
        directory.LearnNick(PeerId(0), "announced", NickSource.Profile);
        for (int i = 1; i < 100_000; i++)
            directory.LearnNick(PeerId(i), "n" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), NickSource.Message);
        Assert.Equal("n1", directory.NickOf(PeerId(1)));
        Assert.Equal("n99999", directory.NickOf(PeerId(99_999)));

        directory.LearnNick(PeerId(100_000), "n100000", NickSource.Message);

        Assert.Null(directory.NickOf(PeerId(1)));                     // the oldest learned from a message went
        Assert.Equal("announced", directory.NickOf(PeerId(0)));       // an announced nick stays
        Assert.Equal("n2", directory.NickOf(PeerId(2)));
        Assert.Equal("n100000", directory.NickOf(PeerId(100_000)));
    }
}
