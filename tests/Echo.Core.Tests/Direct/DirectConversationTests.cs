using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests.Direct;

/// <summary>
/// The direct conversations Core holds, as it holds a room's messages: one ordered, de-duplicated,
/// bounded log per peer, filled from the store at start and by live messages and acknowledgements.
/// </summary>
public sealed class DirectConversationTests
{
    private const string Bob = "12D3KooWBob111111111111111111111111111111111111111";
    private const string Carol = "12D3KooWCar111111111111111111111111111111111111111";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DirectMessage Message(string id, string peerId, int minute, bool outgoing = false) =>
        new(id, peerId, outgoing ? "me" : "bob", "text " + id, DateTimeOffset.UnixEpoch.AddMinutes(minute), outgoing, Delivered: !outgoing);

    [Fact]
    public void Show_AppendsEachMessageOnce_AndSaysWhichItFollows()
    {
        DirectConversations conversations = new(capacity: 10);

        Assert.True(conversations.Show(Message("a", Bob, 1), out string? first));
        Assert.True(conversations.Show(Message("b", Bob, 2), out string? second));
        Assert.False(conversations.Show(Message("a", Bob, 1), out _));

        Assert.Null(first);
        Assert.Equal("a", second);
        Assert.Equal(["a", "b"], conversations.Messages(Bob).Select(m => m.Id));
    }

    [Fact]
    public void Load_PutsStoredMessagesInTheirPlaceInTime_BesideLiveOnes()
    {
        DirectConversations conversations = new(capacity: 10);
        conversations.Show(Message("live", Bob, 5), out _);

        conversations.Load([Message("old", Bob, 1), Message("live", Bob, 5), Message("c1", Carol, 3)]);

        Assert.Equal(["old", "live"], conversations.Messages(Bob).Select(m => m.Id));
        Assert.Equal([Bob, Carol], conversations.Peers);   // the conversation with the oldest message first
        Assert.Equal(["old", "live", "c1"], conversations.All().Select(m => m.Id));
    }

    [Fact]
    public void EachConversation_KeepsItsNewestMessagesUpToTheBound()
    {
        DirectConversations conversations = new(capacity: 3);
        for (int i = 0; i < 5; i++)
            conversations.Show(Message("b" + i, Bob, i), out _);
        conversations.Show(Message("c0", Carol, 0), out _);

        Assert.Equal(["b2", "b3", "b4"], conversations.Messages(Bob).Select(m => m.Id));
        Assert.Equal(["c0"], conversations.Messages(Carol).Select(m => m.Id));
    }

    [Fact]
    public void PastMaxConversations_TheQuietestIsDropped()
    {
        DirectConversations conversations = new(capacity: 3);
        for (int i = 0; i < DirectConversations.MaxConversations; i++)
            conversations.Show(Message("m" + i, "peer" + i, i), out _);
        conversations.Show(Message("again", "peer0", 100), out _);   // peer0 is active again: peer1 is now the quietest

        conversations.Show(Message("new", "newcomer", 101), out _);

        Assert.Equal(DirectConversations.MaxConversations, conversations.Peers.Count);
        Assert.Empty(conversations.Messages("peer1"));
        Assert.Equal(["m0", "again"], conversations.Messages("peer0").Select(m => m.Id));
    }

    [Fact]
    public void Load_IntoAnEmptyConversation_KeepsTheStoresOrder()
    {
        DirectConversations conversations = new(capacity: 10);

        conversations.Load([Message("z", Bob, 1), Message("a", Bob, 1), Message("skewed", Bob, 0)]);   // the same millisecond; a peer's clock behind

        Assert.Equal(["z", "a", "skewed"], conversations.Messages(Bob).Select(m => m.Id));
    }

    [Fact]
    public void MarkDelivered_UpdatesTheKeptMessage()
    {
        DirectConversations conversations = new(capacity: 10);
        conversations.Show(Message("a", Bob, 1, outgoing: true), out _);

        Assert.True(conversations.MarkDelivered(Bob, "a"));
        Assert.False(conversations.MarkDelivered(Bob, "unknown"));

        Assert.True(Assert.Single(conversations.Messages(Bob)).Delivered);
    }

    [Fact(Timeout = 10_000)]
    public async Task Chat_HoldsSentReceivedAndAcknowledgedMessages_InOrder()
    {
        FakeDirectNetwork network = new();
        await using ChatManager manager = new(network, new ChatOptions { Nick = "me" }, NullLogger<ChatManager>.Instance);
        using ChatSubscription events = manager.Subscribe();
        await manager.StartAsync(Ct);

        await manager.SubmitAsync($"/msg {Bob} first", Ct);
        DirectMessageEvent sent = await events.NextAsync<DirectMessageEvent>();
        DirectEnvelope envelope = new(DirectIds.New(), "bob", DateTimeOffset.UtcNow, "answer", null);
        network.Inject(new DirectArrived(Bob, envelope));
        network.Inject(new DirectArrived(Bob, envelope));
        DirectMessageEvent received = await events.NextAsync<DirectMessageEvent>();
        Assert.Null(sent.After);
        Assert.Equal(sent.Message.Id, received.After);
        Assert.False(Assert.Single(manager.DirectMessages(Bob), m => m.Outgoing).Delivered);

        network.Connected[Bob] = true;
        network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/1/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));
        await events.NextAsync<DirectDeliveredEvent>();

        Assert.Equal([("first", true, true), ("answer", false, true)],
            manager.DirectMessages(Bob).Select(m => (m.Text, m.Outgoing, m.Delivered)));
        Assert.Equal(manager.DirectMessages(Bob), await manager.RecentDirectMessagesAsync(Ct));
    }

    [Fact(Timeout = 10_000)]
    public async Task Chat_KeepsTheNewestMessagesOfAConversation_UpToItsScrollback()
    {
        await using ChatManager manager = new(new FakeDirectNetwork(), new ChatOptions { Nick = "me", ScrollbackPerRoom = 3 },
            NullLogger<ChatManager>.Instance);
        using ChatSubscription events = manager.Subscribe();
        await manager.StartAsync(Ct);

        for (int i = 0; i < 5; i++)
        {
            await manager.SubmitAsync($"/msg {Bob} m{i}", Ct);
            await events.NextAsync<DirectMessageEvent>();
        }

        Assert.Equal(["m2", "m3", "m4"], manager.DirectMessages(Bob).Select(m => m.Text));
    }

    [Fact(Timeout = 10_000)]
    public async Task AfterARestart_TheConversationsComeBackFromTheStore_InOrder()
    {
        InMemoryDirectStore store = new();
        await using (ChatManager before = new(new FakeDirectNetwork(), new ChatOptions { Nick = "me" }, NullLogger<ChatManager>.Instance,
            directStore: store))
        {
            using ChatSubscription events = before.Subscribe();
            await before.StartAsync(Ct);
            await before.SubmitAsync($"/msg {Bob} to bob", Ct);
            await events.NextAsync<DirectMessageEvent>();
            await before.SubmitAsync($"/msg {Carol} to carol", Ct);
            await events.NextAsync<DirectMessageEvent>();
            await before.SubmitAsync($"/msg {Bob} again", Ct);
            await events.NextAsync<DirectMessageEvent>();
        }

        await using ChatManager after = new(new FakeDirectNetwork(), new ChatOptions { Nick = "me" }, NullLogger<ChatManager>.Instance,
            directStore: store);
        await after.StartAsync(Ct);

        Assert.Equal(["to bob", "again"], after.DirectMessages(Bob).Select(m => m.Text));
        IReadOnlyList<DirectMessage> recent = await after.RecentDirectMessagesAsync(Ct);
        Assert.Equal(["to bob", "again"], recent.Where(m => m.PeerId == Bob).Select(m => m.Text));
        Assert.Equal(["to carol"], recent.Where(m => m.PeerId == Carol).Select(m => m.Text));
        Assert.Equal(3, recent.Count);
    }
}
