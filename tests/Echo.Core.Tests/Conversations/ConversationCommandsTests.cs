using Echo.Core.Chat;
using Echo.Core.Commands;
using Echo.Core.Conversations;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests.Conversations;

/// <summary>Typed calls in a conversation: what the faces use instead of writing command strings.</summary>
public sealed class ConversationCommandsTests : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob111111111111111111111111111111111111111";

    private readonly FakeDirectNetwork _network = new();
    private readonly ChatManager _manager;
    private readonly ChatSubscription _events;

    public ConversationCommandsTests()
    {
        _manager = new ChatManager(_network, new ChatOptions { Nick = "me" }, NullLogger<ChatManager>.Instance);
        _events = _manager.Subscribe();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await _manager.StartAsync(Ct);
        _network.Connected[Bob] = true;
        _network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/1/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));
        await _events.NextAsync<PeerConnectedEvent>();
    }

    public async ValueTask DisposeAsync() => await _manager.DisposeAsync();

    [Fact(Timeout = 10_000)]
    public async Task TextTypedInADirectConversation_GoesToItsPeer_AndADoubleSlashKeepsALeadingSlash()
    {
        ConversationId withBob = ConversationId.Direct(Bob);

        await _manager.RunAsync(CommandParser.Parse("just between us"), withBob, Ct);
        await _manager.RunAsync(CommandParser.Parse("//not a command"), withBob, Ct);

        DirectMessageEvent shown = await _events.NextAsync<DirectMessageEvent>();
        Assert.Equal(withBob, shown.Conversation);
        await _events.NextAsync<DirectDeliveredEvent>();
        Assert.Equal(["just between us", "/not a command"], _network.Sent.Select(s => s.Envelope.Text));
        Assert.All(_network.Sent, s => Assert.Equal(Bob, s.PeerId));
        Assert.Empty(_network.Chat.Published);
    }

    [Fact(Timeout = 10_000)]
    public async Task TextTypedInARoom_GoesToTheCurrentRoom_AndCommandsRunAsAnywhere()
    {
        await _manager.RunAsync(CommandParser.Parse("/join dev"), ConversationId.Room("lobby"), Ct);
        await _manager.RunAsync(CommandParser.Parse("hello"), ConversationId.Room("lobby"), Ct);   // typed before the screen switched

        MessageEvent said = await _events.NextAsync<MessageEvent>();
        Assert.Equal(ConversationId.Room("dev"), said.Conversation);
        Assert.Empty(_network.Sent);
    }

    [Fact(Timeout = 10_000)]
    public async Task SendToAConversation_NamesTheRoomOrThePeer()
    {
        await _manager.JoinAsync("dev", Ct);
        await _manager.SendAsync(ConversationId.Room("lobby"), "to lobby", Ct);
        await _manager.SendAsync(ConversationId.Direct(Bob), "to bob", Ct);
        await _manager.SendAsync(ConversationId.Room("ops"), "nowhere", Ct);

        MessageEvent said = await _events.NextAsync<MessageEvent>();
        Assert.Equal(("lobby", "to lobby"), (said.Message.Room, said.Message.Text));
        Assert.Equal("to bob", (await _events.NextAsync<DirectMessageEvent>()).Message.Text);
        Assert.Contains("not in ops", (await _events.NextAsync<ErrorEvent>()).Message);
        Assert.DoesNotContain(_manager.RecentMessages("dev"), m => m.Text == "to lobby");
    }

    [Fact(Timeout = 10_000)]
    public async Task HistoryThatArrivesLate_GoesInItsPlace_AndTheEventSaysWhichMessageItFollows()
    {
        ChatMessage Said(int n) => new($"{Bob}:{n:x16}", "lobby", Bob, "bob", $"message {n}",
            DateTimeOffset.FromUnixTimeMilliseconds(1_000_000 + n * 1000L), MessageOrigin.Room);
        _network.Inject(new MessageArrived(Said(1)));
        _network.Inject(new MessageArrived(Said(3)));
        Assert.Null((await _events.NextAsync<MessageEvent>()).After);
        Assert.Equal(Said(1).Id, (await _events.NextAsync<MessageEvent>()).After);

        _network.Inject(new HistoryPageFetched("lobby", Bob, [Said(2), Said(0)]));

        MessageEvent two = await _events.NextAsync<MessageEvent>();
        Assert.True(two.Message.FromHistory);
        Assert.Equal(Said(1).Id, two.After);
        Assert.Null((await _events.NextAsync<MessageEvent>()).After);   // the oldest goes first
        Assert.Equal([0, 1, 2, 3], _manager.RecentMessages("lobby").Select(m => int.Parse(m.Text[8..], System.Globalization.CultureInfo.InvariantCulture)));
    }
}
