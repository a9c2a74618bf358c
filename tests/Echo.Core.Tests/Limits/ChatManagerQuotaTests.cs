using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Core.Tests.Limits;

public sealed class ChatManagerQuotaTests : IAsyncLifetime
{
    private const string Flooder = "12D3KooWFlooder000000000000000000000000000000000";
    private const string Honest = "12D3KooWHonest0000000000000000000000000000000000";

    private readonly FakeChatNetwork _network = new();
    private readonly FakeMessageStore _store = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly ChatManager _manager;
    private readonly ChatSubscription _events;

    public ChatManagerQuotaTests()
    {
        _manager = new ChatManager(_network, new ChatOptions { Nick = "me", Time = _time }, NullLogger<ChatManager>.Instance, _store);
        _events = _manager.Subscribe();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await _manager.StartAsync(Ct);

    public async ValueTask DisposeAsync() => await _manager.DisposeAsync();

    private static ChatMessage From(string author, int n, MessageOrigin origin = MessageOrigin.Room) =>
        new($"{author}:{n}", "lobby", author, "nick", $"{author[8..14]} {n}", DateTimeOffset.UtcNow, origin) { ReceivedFrom = author };

    [Fact(Timeout = 60_000)]
    public async Task OneAuthorSending100000_IsStoredUpToItsBurstAndRate_TheHonestPeersMessagesAllAre()
    {
        // 100 s of fake time: each second the flooder sends 999 messages and the honest peer one,
        // which the chat has taken before the clock moves on.
        for (int second = 0; second < 100; second++)
        {
            for (int i = 0; i < 999; i++)
                _network.Inject(new MessageArrived(From(Flooder, second * 1000 + i)));
            _network.Inject(new MessageArrived(From(Honest, second)));
            await _events.NextAsync<MessageEvent>(e => e.Message.Id == $"{Honest}:{second}", TimeSpan.FromSeconds(20));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        // Its burst of 100, then one a second: 99,701 of its 99,900 were dropped.
        Assert.Equal(100 + 99, _store.Stored.Count(m => m.SenderId == Flooder));
        Assert.Equal(100, _store.Stored.Count(m => m.SenderId == Honest));
        Assert.Equal(99_900 - 199, _manager.Ingest.Refusals["store.author-rate"]);

        await _manager.SubmitAsync("/stats", Ct);
        NoticeEvent notice = await _events.NextAsync<NoticeEvent>(n => n.Text.StartsWith("connections:", StringComparison.Ordinal));
        Assert.Contains("store.author-rate", notice.Text, StringComparison.Ordinal);
        StatsEvent stats = await _events.NextAsync<StatsEvent>();
        Assert.Equal(99_900 - 199, stats.Stats.Refused["store.author-rate"]);
    }

    [Fact(Timeout = 10_000)]
    public async Task TheFloodersFirstRefusal_IsToldOnce_AndItsRateComesBackWithTime()
    {
        for (int i = 0; i < 120; i++)
            _network.Inject(new MessageArrived(From(Flooder, i, MessageOrigin.EchoGo)));
        NoticeEvent told = await _events.NextAsync<NoticeEvent>(n => n.Text.Contains("sends more than Echo stores", StringComparison.Ordinal));
        Assert.Contains("store.author-rate", told.Text, StringComparison.Ordinal);
        await _events.NextAsync<MessageEvent>(e => e.Message.Id == $"{Flooder}:99");

        _time.Advance(TimeSpan.FromSeconds(5));
        for (int i = 120; i < 160; i++)
            _network.Inject(new MessageArrived(From(Flooder, i, MessageOrigin.EchoGo)));
        _network.Inject(new MessageArrived(From(Honest, 0)));
        await _events.NextAsync<MessageEvent>(e => e.Message.Id == $"{Honest}:0");
        Assert.Equal(105, _store.Stored.Count(m => m.SenderId == Flooder));
        while (_events.Events.TryRead(out ChatEvent? e))
            Assert.False(e is NoticeEvent n && n.Text.Contains("sends more", StringComparison.Ordinal));
    }

    [Fact(Timeout = 10_000)]
    public async Task OurOwnMessages_AreNeverHeldToTheQuota()
    {
        for (int i = 0; i < 100; i++)
            await _manager.SendAsync($"mine {i}", Ct);
        Assert.Equal(100, _store.Stored.Count);
        Assert.Empty(_manager.Ingest.Refusals);
    }

    [Fact]
    public void StatsText_ShowsConnectionsStreamsBudgetAndEveryRefusal()
    {
        NodeStats stats = new(3, 2, 17, 3 * 1024 * 1024, 128L * 1024 * 1024, new Dictionary<string, long> { ["history.ip-rate"] = 5 });
        string text = ChatManager.StatsText(stats.WithRefusals(new Dictionary<string, long> { ["history.ip-rate"] = 1, ["store.author-rate"] = 9 }));
        Assert.Equal(
            "connections: 3 in, 2 out\nstreams: 17\nmemory budget: 3.0 MiB in use of 128.0 MiB\nrefused:\n" +
            "  history.ip-rate          6\n  store.author-rate        9", text);
        Assert.Contains("refused: nothing", ChatManager.StatsText(NodeStats.Empty), StringComparison.Ordinal);
    }
}
