using System.Globalization;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests;

/// <summary>The chat over a history store: stored before shown, rooms and last messages back at start, history shown as such.</summary>
public sealed class ChatManagerHistoryTests : IAsyncDisposable
{
    private const string Alice = "12D3KooWAlice0000000000000000000000000000000000000";

    private readonly FakeChatNetwork _network = new();
    private readonly FakeMessageStore _store = new();
    private ChatManager? _manager;
    private ChatSubscription? _events;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<ChatManager> StartAsync(FakeMessageStore? store = null, int historyOnJoin = 100)
    {
        _manager = new ChatManager(_network, new ChatOptions { Nick = "me", HistoryOnJoin = historyOnJoin },
            NullLogger<ChatManager>.Instance, store ?? _store);
        _events = _manager.Subscribe();
        await _manager.StartAsync(Ct);
        return _manager;
    }

    public async ValueTask DisposeAsync()
    {
        if (_manager is not null)
            await _manager.DisposeAsync();
    }

    private Task<T> NextAsync<T>(Func<T, bool>? match = null) where T : ChatEvent => _events!.NextAsync(match);

    private static ChatMessage Said(string room, int n, string from = Alice) =>
        new($"{from}:{n:x16}", room, from, "alice", $"message {n}", DateTimeOffset.FromUnixTimeMilliseconds(1_000_000 + n * 1000),
            MessageOrigin.Room);

    [Fact(Timeout = 10_000)]
    public async Task Message_IsShownOnlyOnceStored()
    {
        ChatManager manager = await StartAsync();
        _store.WritesMayFinish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _network.Inject(new MessageArrived(Said("lobby", 1)));
        Task send = manager.SendAsync("mine", Ct);
        int pending = 0;
        while (pending < 2)
            pending += (await _store.WritesStarted.Reader.ReadAsync(Ct)).Count;
        // Both writes are held back: nothing may be shown yet.
        Assert.Empty(manager.RecentMessages("lobby"));
        while (_events!.Events.TryRead(out ChatEvent? early))
            Assert.IsNotType<MessageEvent>(early);
        Assert.False(send.IsCompleted);
        _store.WritesMayFinish.SetResult();
        await send;
        MessageEvent first = await NextAsync<MessageEvent>();
        MessageEvent second = await NextAsync<MessageEvent>();
        Assert.Equal(2, _store.Stored.Count);
        Assert.All([first, second], e => Assert.Contains(_store.Stored, s => s.Id == e.Message.Id));
    }

    [Fact(Timeout = 10_000)]
    public async Task MessageTheStoreAlreadyHas_IsNotShownAgain()
    {
        ChatMessage old = Said("lobby", 1);
        _store.Seed([old]);
        ChatManager manager = await StartAsync(historyOnJoin: 0);
        _network.Inject(new MessageArrived(old));
        _network.Inject(new MessageArrived(Said("lobby", 2)));
        MessageEvent shown = await NextAsync<MessageEvent>();
        Assert.Equal(Said("lobby", 2).Id, shown.Message.Id);
        Assert.Equal([Said("lobby", 2).Id], manager.RecentMessages("lobby").Select(m => m.Id));
    }

    [Fact(Timeout = 10_000)]
    public async Task Search_FindsStoredLinesOfTheCurrentRoom_AsHistory_AndTheCommandTellsThem()
    {
        _store.Seed([Said("lobby", 1) with { Text = "where is the Key?" }, Said("lobby", 2), Said("ops", 3) with { Text = "key elsewhere" }], "lobby");
        ChatManager chat = await StartAsync();

        ChatMessage found = Assert.Single(await chat.SearchAsync("lobby", "KEY", 10, Ct));
        Assert.Equal(("where is the Key?", true), (found.Text, found.FromHistory));
        Assert.Empty(await chat.SearchAsync("lobby", "", 10, Ct));

        await chat.RunAsync(new Echo.Core.Commands.ChatCommand.Search("key"), Ct);
        NoticeEvent notice = await NextAsync<NoticeEvent>(n => n.Text.Contains("contains", StringComparison.Ordinal));
        Assert.Equal("1 line in #lobby contains \"key\"\n1970-01-01 00:16 <alice> where is the Key?", notice.Text);
    }

    [Fact(Timeout = 10_000)]
    public async Task ALiveCopyOfAMessageTheHistorySyncJustFetched_IsShownOnce_AsHistory()
    {
        ChatManager manager = await StartAsync(historyOnJoin: 0);
        ChatMessage synced = Said("lobby", 1);
        // The sync hands its page over; a copy by gossip comes right after it.
        _network.Inject(new HistoryPageFetched("lobby", Alice, [synced]) { Position = new SyncPosition("e", 1) });
        _network.Inject(new MessageArrived(synced));
        _network.Inject(new MessageArrived(Said("lobby", 2)));
        MessageEvent shown = await NextAsync<MessageEvent>();
        Assert.Equal(synced.Id, shown.Message.Id);
        Assert.True(shown.Message.FromHistory);
        Assert.Equal(Said("lobby", 2).Id, (await NextAsync<MessageEvent>()).Message.Id);
        Assert.Equal([synced.Id, Said("lobby", 2).Id], manager.RecentMessages("lobby").Select(m => m.Id));
        Assert.Equal(2, _store.Stored.Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task Start_RejoinsSavedRooms_AndShowsTheirLastMessagesAsHistory()
    {
        _store.Seed([.. Enumerable.Range(1, 5).Select(n => Said("lobby", n)), .. Enumerable.Range(10, 3).Select(n => Said("dev", n))],
            "dev", "lobby");
        ChatManager manager = await StartAsync(historyOnJoin: 3);
        Assert.Equal(["dev", "lobby"], manager.Rooms);
        Assert.Equal("lobby", manager.CurrentRoom);
        Assert.Equal([3, 4, 5], manager.RecentMessages("lobby").Select(m => int.Parse(m.Text[8..], CultureInfo.InvariantCulture)));
        Assert.All(manager.RecentMessages("dev"), m => Assert.True(m.FromHistory));
        MessageEvent first = await NextAsync<MessageEvent>();
        Assert.True(first.Message.FromHistory);
        Assert.Equal("dev", first.Message.Room);

        await manager.JoinAsync("ops", Ct);
        Assert.Equal(["dev", "lobby", "ops"], await _store.LoadRoomsAsync(Ct));
        await manager.LeaveAsync("dev", Ct);
        Assert.Equal(["lobby", "ops"], await _store.LoadRoomsAsync(Ct));
    }

    [Fact(Timeout = 10_000)]
    public async Task AHistoryPage_IsShownAsHistory_InTimeOrder_Once()
    {
        ChatManager manager = await StartAsync();
        _network.Inject(new MessageArrived(Said("lobby", 5)));
        await NextAsync<MessageEvent>();
        _network.Inject(new HistoryPageFetched("lobby", Alice, [Said("lobby", 1), Said("lobby", 3), Said("lobby", 5)]));
        MessageEvent one = await NextAsync<MessageEvent>();
        MessageEvent three = await NextAsync<MessageEvent>();
        Assert.True(one.Message.FromHistory && three.Message.FromHistory);
        Assert.Equal([1, 3, 5], manager.RecentMessages("lobby").Select(m => int.Parse(m.Text[8..], CultureInfo.InvariantCulture)));
    }

    [Fact(Timeout = 10_000)]
    public async Task AHistoryPage_IsStoredBeforeItIsShown_AndItsReceiptSettledOnlyThen()
    {
        ChatManager manager = await StartAsync(historyOnJoin: 0);
        _store.WritesMayFinish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        HistoryReceipt receipt = new();
        _network.Inject(new HistoryPageFetched("lobby", Alice, [Said("lobby", 1), Said("lobby", 2)])
        {
            Position = new SyncPosition("e", 2), Receipt = receipt,
        });
        Assert.Equal(2, (await _store.WritesStarted.Reader.ReadAsync(Ct)).Count);
        // The write is held back: the sync may not move on, and nothing is shown.
        Assert.False(receipt.Outcome.IsCompleted);
        Assert.Empty(manager.RecentMessages("lobby"));
        _store.WritesMayFinish.SetResult();
        Assert.Null(await receipt.Outcome.WaitAsync(Ct));
        Assert.Equal(2, receipt.Added);
        Assert.All([await NextAsync<MessageEvent>(), await NextAsync<MessageEvent>()], e =>
        {
            Assert.True(e.Message.FromHistory);
            Assert.Contains(_store.Stored, s => s.Id == e.Message.Id);
        });
    }

    [Fact(Timeout = 10_000)]
    public async Task AHistoryPageTheStoreCannotKeep_IsRefused_AndNotShown_TheNextCopyIs()
    {
        ChatManager manager = await StartAsync(historyOnJoin: 0);
        _store.FailWrites = "disk full";
        HistoryReceipt refused = new();
        _network.Inject(new HistoryPageFetched("lobby", Alice, [Said("lobby", 1)]) { Position = new SyncPosition("e", 1), Receipt = refused });
        Assert.Equal("disk full", await refused.Outcome.WaitAsync(Ct));
        Assert.Empty(manager.RecentMessages("lobby"));

        // The sync fetches the page again next time; now it is stored and shown, once.
        _store.FailWrites = null;
        HistoryReceipt stored = new();
        _network.Inject(new HistoryPageFetched("lobby", Alice, [Said("lobby", 1)]) { Position = new SyncPosition("e", 1), Receipt = stored });
        Assert.Null(await stored.Outcome.WaitAsync(Ct));
        Assert.Equal(Said("lobby", 1).Id, (await NextAsync<MessageEvent>()).Message.Id);
        Assert.Equal([Said("lobby", 1).Id], manager.RecentMessages("lobby").Select(m => m.Id));
    }

    [Fact(Timeout = 10_000)]
    public async Task LoadOlder_PagesBackThroughTheStore()
    {
        _store.Seed([.. Enumerable.Range(1, 30).Select(n => Said("lobby", n))]);
        ChatManager manager = await StartAsync(historyOnJoin: 10);
        ChatMessage oldestShown = manager.RecentMessages("lobby")[0];
        Assert.Equal("message 21", oldestShown.Text);
        IReadOnlyList<ChatMessage> older = await manager.LoadOlderAsync("lobby", HistoryCursor.Of(oldestShown), 15, Ct);
        Assert.Equal(Enumerable.Range(6, 15).Select(n => $"message {n}"), older.Select(m => m.Text));
        Assert.All(older, m => Assert.True(m.FromHistory));
    }

    [Fact(Timeout = 10_000)]
    public async Task DamagedStore_IsReportedAtStart_AndTheChatGoesOn()
    {
        FakeMessageStore damaged = new() { Problem = "history database x is damaged", IsReadOnly = true };
        ChatManager manager = await StartAsync(damaged);
        Assert.Contains("damaged", (await NextAsync<ErrorEvent>()).Message);
        await manager.SendAsync("still chatting", Ct);
        Assert.Equal("still chatting", (await NextAsync<MessageEvent>()).Message.Text);
        Assert.Equal(0, damaged.Writes);
    }
}
