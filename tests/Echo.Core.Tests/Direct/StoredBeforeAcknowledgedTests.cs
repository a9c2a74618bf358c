using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests.Direct;

/// <summary>
/// A direct message is acknowledged only once stored; a store that fails refuses it (the sender keeps
/// it) and what is shown says "not saved", with the user told once why.
/// </summary>
public sealed class StoredBeforeAcknowledgedTests : IAsyncDisposable
{
    private const string Bob = "12D3KooWBob111111111111111111111111111111111111111";

    private readonly FakeDirectNetwork _network = new();
    private readonly FlakyDirectStore _directStore = new();
    private readonly FakeMessageStore _store = new();
    private ChatManager? _manager;
    private ChatSubscription? _events;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<ChatManager> StartAsync()
    {
        _manager = new ChatManager(_network, new ChatOptions { Nick = "me" }, NullLogger<ChatManager>.Instance, _store, _directStore);
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

    /// <summary>Every event until a <see cref="NoticeEvent"/> with <paramref name="marker"/> (published after the rest).</summary>
    private async Task<List<ChatEvent>> UntilMarkerAsync(string marker)
    {
        await _manager!.SubmitAsync("/help", Ct);
        List<ChatEvent> seen = [];
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        while (true)
        {
            ChatEvent next = await _events!.Events.ReadAsync(timeout.Token);
            if (next is NoticeEvent n && n.Text.Contains(marker, StringComparison.Ordinal))
                return seen;
            seen.Add(next);
        }
    }

    private static DirectArrived Arrived(string id, string text, out DirectReceipt receipt)
    {
        receipt = new DirectReceipt();
        return new DirectArrived(Bob, new DirectEnvelope(id, "bob", DateTimeOffset.UtcNow, text, null)) { Receipt = receipt };
    }

    [Fact(Timeout = 10_000)]
    public async Task Arrived_IsAcknowledgedOnlyOnceStored_AndADuplicateIsStoredAndShownOnce()
    {
        await StartAsync();
        _directStore.WritesMayFinish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        string id = DirectIds.New();
        _network.Inject(Arrived(id, "hello", out DirectReceipt first));
        await _directStore.WriteStarted.Reader.ReadAsync(Ct);
        Assert.False(first.Outcome.IsCompleted);            // the write has not finished: no acknowledgement yet
        _directStore.WritesMayFinish.SetResult();
        Assert.Null(await first.Outcome.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.Equal("hello", (await NextAsync<DirectMessageEvent>()).Message.Text);

        _network.Inject(Arrived(id, "hello", out DirectReceipt again));   // the sender did not get our ack and resent it
        Assert.Null(await again.Outcome.WaitAsync(TimeSpan.FromSeconds(5), Ct));   // acknowledged again
        Assert.Single(_directStore.Messages, m => m.Id == id);
        Assert.DoesNotContain(await UntilMarkerAsync("/msg"), e => e is DirectMessageEvent);
    }

    [Fact(Timeout = 10_000)]
    public async Task ABurst_IsStoredInOneWrite()
    {
        await StartAsync();
        _directStore.WritesMayFinish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _network.Inject(Arrived(DirectIds.New(), "first", out DirectReceipt first));
        await _directStore.WriteStarted.Reader.ReadAsync(Ct);
        List<DirectReceipt> burst = [];
        for (int i = 0; i < 20; i++)
        {
            _network.Inject(Arrived(DirectIds.New(), $"burst {i}", out DirectReceipt receipt));
            burst.Add(receipt);
        }
        _directStore.WritesMayFinish.SetResult();
        foreach (DirectReceipt receipt in (DirectReceipt[])[first, .. burst])
            Assert.Null(await receipt.Outcome.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.Equal(2, _directStore.Writes);          // the first, then the 20 that waited meanwhile
        Assert.Equal(21, _directStore.Messages.Count);
    }

    [Fact(Timeout = 10_000)]
    public async Task AFailingStore_RefusesTheMessage_ShowsItNotSaved_AndTellsTheUserOnce()
    {
        await StartAsync();
        _directStore.FailWrites = "database or disk is full";
        _network.Inject(Arrived(DirectIds.New(), "one", out DirectReceipt one));
        string? refused = await one.Outcome.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal("the receiver could not store it", refused);   // its own reason (and file names) stay local
        string oneId = (await NextAsync<DirectMessageEvent>(e => e.Message.Text == "one")).Message.Id;

        _network.Inject(Arrived(DirectIds.New(), "two", out DirectReceipt two));
        Assert.NotNull(await two.Outcome.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        _network.Inject(Arrived(oneId, "one", out DirectReceipt oneAgain));   // resent: refused again, not shown again
        Assert.NotNull(await oneAgain.Outcome.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        List<ChatEvent> seen = await UntilMarkerAsync("/msg");
        Assert.Single(seen, e => e is DirectMessageEvent { Message: { Text: "two", NotSaved: true } });
        Assert.DoesNotContain(seen, e => e is DirectMessageEvent { Message.Text: "one" });
        Assert.DoesNotContain(seen, e => e is ErrorEvent);   // told once, with the first

        _directStore.FailWrites = null;
        _network.Inject(Arrived(oneId, "one", out DirectReceipt stored));
        Assert.Null(await stored.Outcome.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.Contains("saved again", (await NextAsync<NoticeEvent>()).Text);
        Assert.Single(_directStore.Messages, m => m.Id == oneId);
    }

    [Fact(Timeout = 10_000)]
    public async Task AFailingStore_MarksRoomMessagesNotSaved_OwnAndIncoming_WithOneError()
    {
        ChatManager manager = await StartAsync();
        _store.FailWrites = "database or disk is full";
        await manager.SendAsync("mine", Ct);
        MessageEvent own = await NextAsync<MessageEvent>(e => e.Message.Text == "mine");
        Assert.True(own.Message.NotSaved);
        _network.Inject(new MessageArrived(new ChatMessage("x:1", "lobby", Bob, "bob", "theirs", DateTimeOffset.UtcNow, MessageOrigin.Room)));
        Assert.True((await NextAsync<MessageEvent>(e => e.Message.Text == "theirs")).Message.NotSaved);
        _store.FailWrites = null;
        await manager.SendAsync("saved", Ct);
        Assert.False((await NextAsync<MessageEvent>(e => e.Message.Text == "saved")).Message.NotSaved);
    }

    [Fact(Timeout = 10_000)]
    public async Task AFailingStore_ErrorEventSaysWhy_Once()
    {
        ChatManager manager = await StartAsync();
        _store.FailWrites = "database or disk is full";
        await manager.SendAsync("a", Ct);
        await manager.SendAsync("b", Ct);
        _directStore.FailWrites = "database or disk is full";
        _network.Inject(Arrived(DirectIds.New(), "c", out DirectReceipt c));
        await c.Outcome.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        List<ChatEvent> seen = await UntilMarkerAsync("/msg");
        ErrorEvent error = Assert.Single(seen.OfType<ErrorEvent>());
        Assert.Contains("not saved", error.Message);
        Assert.Contains("disk is full", error.Message);
    }

    [Fact(Timeout = 10_000)]
    public async Task OwnDirectMessage_TheStoreFails_IsShownNotSaved_AndSentOnceWithoutTheOutbox()
    {
        ChatManager manager = await StartAsync();
        _network.Connected[Bob] = true;
        _directStore.FailWrites = "read-only file system";
        await manager.SendDirectAsync(Bob, "unsaved", Ct);
        Assert.Contains("read-only", (await NextAsync<ErrorEvent>()).Message);
        DirectMessageEvent shown = await NextAsync<DirectMessageEvent>();
        Assert.True(shown.Message.NotSaved);
        Assert.Equal(shown.Message.Id, (await NextAsync<DirectDeliveredEvent>()).Id);
        Assert.Empty(_directStore.Messages);
    }

    /// <summary>
    /// What the sender does when the peer refuses (its disk is full): the message stays in the
    /// outbox and goes again on every reconnect until it is acknowledged.
    /// </summary>
    [Fact(Timeout = 10_000)]
    public async Task Refused_StaysInTheOutbox_AndIsResentOnEveryReconnect()
    {
        ChatManager manager = await StartAsync();
        _network.Refuse = "the receiver could not store it";
        _network.Connected[Bob] = true;
        await manager.SendDirectAsync(Bob, "keep me", Ct);
        string id = (await NextAsync<DirectMessageEvent>()).Message.Id;
        Assert.Single(_network.Attempts);
        for (int reconnect = 1; reconnect <= 3; reconnect++)
        {
            _network.Inject(new PeerLeft(Bob));
            if (reconnect == 3)
                _network.Refuse = null;
            _network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/1/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));
            await UntilAsync(() => _network.Attempts.Count == reconnect + 1, $"resent on reconnect {reconnect}");
            if (reconnect < 3)
                Assert.Equal([id], (await _directStore.OutboxAsync(Bob, Ct)).Select(m => m.Id));
        }
        Assert.Equal(id, (await NextAsync<DirectDeliveredEvent>()).Id);
        Assert.Empty(await _directStore.OutboxAsync(Bob, Ct));
        Assert.All(_network.Attempts, a => Assert.Equal(id, a.Envelope.Id));
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        using PeriodicTimer tick = new(TimeSpan.FromMilliseconds(10));
        while (!condition())
        {
            try
            {
                await tick.WaitForNextTickAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                Assert.Fail("timed out waiting until " + what);
            }
        }
    }

    /// <summary>An in-memory direct store whose writes a test can hold back or make fail.</summary>
    private sealed class FlakyDirectStore : IDirectStore
    {
        private readonly InMemoryDirectStore _inner = new();
        private readonly Lock _gate = new();
        private readonly List<DirectMessage> _messages = [];

        public TaskCompletionSource WritesMayFinish { get; set; } = FakeMessageStore.Completed();

        public System.Threading.Channels.Channel<int> WriteStarted { get; } = System.Threading.Channels.Channel.CreateUnbounded<int>();

        public string? FailWrites { get; set; }

        public int Writes { get; private set; }

        public IReadOnlyList<DirectMessage> Messages
        {
            get { lock (_gate) return [.. _messages]; }
        }

        public async Task<bool> AddAsync(DirectMessage message, CancellationToken cancellationToken) =>
            (await AddAllAsync([message], cancellationToken))[0];

        public async Task<IReadOnlyList<bool>> AddAllAsync(IReadOnlyList<DirectMessage> messages, CancellationToken cancellationToken)
        {
            WriteStarted.Writer.TryWrite(messages.Count);
            await WritesMayFinish.Task.WaitAsync(cancellationToken);
            if (FailWrites is { } reason)
                throw new MessageStoreException(reason);
            List<bool> added = [];
            foreach (DirectMessage message in messages)
            {
                bool isNew = await _inner.AddAsync(message, cancellationToken);
                if (isNew)
                    lock (_gate)
                        _messages.Add(message);
                added.Add(isNew);
            }
            lock (_gate)
                Writes++;
            return added;
        }

        public Task MarkDeliveredAsync(string peerId, string id, CancellationToken cancellationToken) =>
            _inner.MarkDeliveredAsync(peerId, id, cancellationToken);

        public Task<IReadOnlyList<DirectMessage>> OutboxAsync(string? peerId, CancellationToken cancellationToken) =>
            _inner.OutboxAsync(peerId, cancellationToken);

        public Task<IReadOnlyList<DirectMessage>> ConversationAsync(string? peerId, int count, CancellationToken cancellationToken) =>
            _inner.ConversationAsync(peerId, count, cancellationToken);
    }
}
