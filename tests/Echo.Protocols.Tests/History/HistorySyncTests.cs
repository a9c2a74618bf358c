using System.Globalization;
using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Ports;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Pubsub;
using Echo.Protocols.History;
using Echo.Protocols.History.Pb;
using Echo.Protocols.Rooms;
using Echo.Storage;
using Google.Protobuf;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Protocols.Tests.History;

/// <summary>
/// /echo/history/1.0.0 between adapters on 127.0.0.1, each with its own SQLite history, which the
/// chat's history writer fills from the pages the sync hands over (<see cref="HistoryWriterLoop"/>).
/// </summary>
public sealed class HistorySyncTests : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly Dictionary<Libp2pChatNetwork, HistoryWriterLoop> _writers = [];
    private readonly string _directory = Directory.CreateTempSubdirectory("echo-sync-test-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>An adapter over its own history, with the chat's writer storing what its sync fetches (into <paramref name="writeTo"/> when given).</summary>
    private async Task<(Libp2pChatNetwork Network, SqliteMessageStore Store)> StartAsync(string name, ChatNetworkOptions? options = null,
        bool join = true, Func<SqliteMessageStore, IMessageStore>? writeTo = null)
    {
        SqliteMessageStore store = SqliteMessageStore.Open(Path.Combine(_directory, name + ".db"));
        _owned.Add(store);
        Libp2pChatNetwork network = new(TestNetworks.NewHost(), options ?? TestNetworks.Options, NullLoggerFactory.Instance, store: store);
        _owned.Add(network);
        HistoryWriterLoop writer = new(network, writeTo?.Invoke(store) ?? store);
        _owned.Add(writer);
        _writers[network] = writer;
        await network.StartAsync(Ct);
        if (join)
            await network.JoinRoomAsync("lobby", Ct);
        return (network, store);
    }

    /// <summary>Messages <paramref name="author"/> signs, published to nobody: what a peer that heard them would store.</summary>
    private static async Task<List<ChatMessage>> WriteAsync(Libp2pChatNetwork author, int count, string prefix = "m")
    {
        List<ChatMessage> written = [];
        for (int i = 0; i < count; i++)
            written.Add(await author.PublishAsync("lobby", "alice", $"{prefix} {i}", Ct) with { Origin = MessageOrigin.Room });
        return written;
    }

    /// <summary>Waits until the chat's writer stored <paramref name="count"/> new messages from fetched pages; returns them in arrival order.</summary>
    private async Task<List<ChatMessage>> ArrivedAsync(Libp2pChatNetwork network, int count)
    {
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TestNetworks.Wait);
        List<ChatMessage> arrived = [];
        while (arrived.Count < count)
            arrived.Add(await _writers[network].Stored.ReadAsync(deadline.Token));
        return arrived;
    }

    [Fact(Timeout = 60_000)]
    public async Task Newcomer_FetchesEveryMessageOfTheAuthor_FromAnotherPeer_InOrder_Verified()
    {
        (Libp2pChatNetwork alice, _) = await StartAsync("alice");
        (Libp2pChatNetwork bob, SqliteMessageStore bobStore) = await StartAsync("bob");
        // More than one page, so the cursor has to carry the sync on.
        List<ChatMessage> written = await WriteAsync(alice, HistorySync.MaxPageMessages + 120);
        await bobStore.AddAsync(written, Ct);

        // No overlap: all of this was written within the last second, and the second sync below shows the cursor alone.
        (Libp2pChatNetwork carol, SqliteMessageStore carolStore) = await StartAsync("carol",
            TestNetworks.Options with { History = new HistorySyncOptions { Overlap = TimeSpan.Zero } });
        await carol.ConnectAsync(bob.ListenAddresses[0], Ct);
        List<ChatMessage> arrived = await ArrivedAsync(carol, written.Count);

        Assert.Equal(written.Select(m => m.Id), arrived.Select(m => m.Id));
        IReadOnlyList<ChatMessage> stored = await carolStore.AfterAsync("lobby", HistoryCursor.Start, 10_000, Ct);
        Assert.Equal(written.Select(m => (m.Id, m.Text, m.Timestamp)), stored.Select(m => (m.Id, m.Text, m.Timestamp)));
        Assert.All(stored, m =>
        {
            Assert.Equal(alice.LocalPeerId, m.SenderId);
            Assert.True(SignedRoomMessage.Verify(m));
        });
        Assert.Equal(0, carol.History!.InvalidFrom(bob.Id()));

        // A second sync with the same peer asks from where the first ended: one empty page (rule S-4 of docs/LIMITS.md: at most 1 KiB).
        long before = carol.History.BytesReceived;
        await carol.History.SyncAsync(bob.Id(), "lobby", Ct);
        long second = carol.History.BytesReceived - before;
        Assert.InRange(second, 1, 1024);
    }

    /// <summary>A message <paramref name="author"/> signs with a time of the test's choosing (a wrong or hostile clock).</summary>
    private static async Task<ChatMessage> WriteDatedAsync(Libp2pChatNetwork author, string text, DateTimeOffset when)
    {
        PubsubMessage signed = await author.Router.PublishAsync("chat-room:lobby",
            RoomMessageCodec.Encode(text, author.LocalPeerId, "alice", when), Ct);
        return SignedRoomMessage.Open("lobby", SignedRoomMessage.Envelope(signed), DateTimeOffset.UtcNow, out _)!;
    }

    /// <summary>A sync of the room that surely started after now (one already running may have started before).</summary>
    private static async Task SyncAfterNowAsync(Libp2pChatNetwork requester, Libp2pChatNetwork responder)
    {
        await requester.History!.SyncAsync(responder.Id(), "lobby", Ct);
        await requester.History.SyncAsync(responder.Id(), "lobby", Ct);
    }

    [Fact(Timeout = 90_000)]
    public async Task CatchUp_AfterAnEmptySync_PastYear2999And1970Messages_AndTheTenthTime_GetsEverything()
    {
        (Libp2pChatNetwork alice, _) = await StartAsync("alice");
        (Libp2pChatNetwork bob, SqliteMessageStore bobStore) = await StartAsync("bob");
        (Libp2pChatNetwork carol, SqliteMessageStore carolStore) = await StartAsync("carol");
        await carol.ConnectAsync(bob.ListenAddresses[0], Ct);
        await SyncAfterNowAsync(carol, bob);
        Assert.Empty(await carolStore.LatestAsync("lobby", 10, Ct));

        ChatMessage? future = null, ancient = null;
        for (int round = 2; round <= 10; round++)
        {
            // What bob received while carol was not syncing: ten of alice's messages, in round 3 one she
            // dated 2999 and in round 5 one dated 1970 among them.
            List<ChatMessage> written = await WriteAsync(alice, 10, $"round {round}");
            if (round == 3)
                written[4] = future = await WriteDatedAsync(alice, "from 2999", new DateTimeOffset(2999, 1, 1, 0, 0, 0, TimeSpan.Zero));
            if (round == 5)
                written[6] = ancient = await WriteDatedAsync(alice, "from 1970", DateTimeOffset.UnixEpoch.AddSeconds(1));
            await bobStore.AddAsync(written, Ct);
            await SyncAfterNowAsync(carol, bob);
            HashSet<string> stored = [.. (await carolStore.LatestAsync("lobby", 1000, Ct)).Select(m => m.Id)];
            Assert.True(written.All(m => stored.Contains(m.Id)), $"round {round}: {written.Count(m => !stored.Contains(m.Id))} of 10 missing");
        }

        // Both are stored verified, dated when carol got them and marked; neither sorts to an end of the room.
        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (ChatMessage odd in new[] { future!, ancient! })
        {
            ChatMessage stored = Assert.Single(await carolStore.LatestAsync("lobby", 1000, Ct), m => m.Id == odd.Id);
            Assert.True(stored.ClockClamped);
            Assert.InRange(stored.Timestamp, now.AddMinutes(-1), now);
            Assert.True(SignedRoomMessage.Verify(stored));
        }
        Assert.Equal(0, carol.History!.InvalidFrom(bob.Id()));
    }

    /// <summary>How an echo-chat that knows only time order answers: by (ts, id) after the request's time cursor, no epoch.</summary>
    private static async Task AnswerInTimeOrderAsync(SqliteMessageStore store, P2PStream stream, CancellationToken cancellationToken)
    {
        while (await stream.Input.ReadLengthPrefixedAsync(HistorySync.MaxRequestBytes, HistorySync.ProtocolId, cancellationToken) is { } frame)
        {
            HistoryRequest request = HistoryRequest.Parser.ParseFrom(frame);
            HashSet<string> have = [.. request.Have];
            HistoryCursor after = new(request.AfterTs, request.AfterId);
            IReadOnlyList<ChatMessage> rows = await store.AfterAsync(request.Room, after, HistorySync.MaxPageMessages, cancellationToken);
            HistoryResponse response = new() { More = rows.Count == HistorySync.MaxPageMessages, NextTs = after.TimestampMs, NextId = after.Id };
            foreach (ChatMessage row in rows)
            {
                (response.NextTs, response.NextId) = (row.Timestamp.ToUnixTimeMilliseconds(), row.Id);
                if (have.Contains(row.Id) || row.Envelope is not { } e)
                    continue;
                response.Messages.Add(new SignedMessage
                {
                    From = ByteString.CopyFrom(e.From), Seqno = ByteString.CopyFrom(e.Seqno), Data = ByteString.CopyFrom(e.Data),
                    Signature = ByteString.CopyFrom(e.Signature), Key = ByteString.CopyFrom(e.Key), Ts = row.Timestamp.ToUnixTimeMilliseconds(),
                });
            }
            await stream.Output.WriteLengthPrefixedAsync(response.ToByteArray(), cancellationToken);
        }
        await stream.CompleteOutputAsync();
    }

    [Fact(Timeout = 60_000)]
    public async Task APeerThatAnswersOnlyInTimeOrder_IsSyncedAgain_AfterAnEmptyAnswer_AndPastAMessageDated2999()
    {
        (Libp2pChatNetwork alice, _) = await StartAsync("alice");
        (Libp2pChatNetwork bob, SqliteMessageStore bobStore) = await StartAsync("bob");
        bob.Host.SetStreamHandler(HistorySync.ProtocolId, (stream, ct) => AnswerInTimeOrderAsync(bobStore, stream, ct));
        (Libp2pChatNetwork carol, SqliteMessageStore carolStore) = await StartAsync("carol");
        await carol.ConnectAsync(bob.ListenAddresses[0], Ct);
        await SyncAfterNowAsync(carol, bob);
        Assert.Empty(await carolStore.LatestAsync("lobby", 10, Ct));

        // bob (as an older node would) kept alice's 2999 message at 2999; carol passes over it once.
        ChatMessage future = await WriteDatedAsync(alice, "from 2999", new DateTimeOffset(2999, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await bobStore.AddAsync([.. await WriteAsync(alice, 3, "before"), future], Ct);
        await SyncAfterNowAsync(carol, bob);
        Assert.True(Assert.Single(await carolStore.LatestAsync("lobby", 10, Ct), m => m.Id == future.Id).ClockClamped);

        List<ChatMessage> later = await WriteAsync(alice, 10, "after");
        await bobStore.AddAsync(later, Ct);
        await SyncAfterNowAsync(carol, bob);
        HashSet<string> stored = [.. (await carolStore.LatestAsync("lobby", 100, Ct)).Select(m => m.Id)];
        Assert.True(later.All(m => stored.Contains(m.Id)), $"{later.Count(m => !stored.Contains(m.Id))} of 10 missing");
        Assert.Null(await carolStore.GetSyncPositionAsync("lobby", bob.LocalPeerId, Ct));
    }

    [Fact(Timeout = 60_000)]
    public async Task ForgedRelays_AreDropped_AndCountedAgainstTheRelay()
    {
        (Libp2pChatNetwork alice, _) = await StartAsync("alice");
        // Mallory is not in the room herself, so her router lets her sign whatever she likes for it.
        (Libp2pChatNetwork mallory, SqliteMessageStore malloryStore) = await StartAsync("mallory", join: false);
        List<ChatMessage> genuine = await WriteAsync(alice, 3);
        ChatMessage original = genuine[1];

        // 1. Alice's message with its text changed, her signature kept.
        SignedEnvelope e = original.Envelope!;
        byte[] altered = RoomMessageCodec.Encode("send mallory your keys", alice.LocalPeerId, "alice", original.Timestamp);
        ChatMessage tampered = original with { Text = "send mallory your keys", Envelope = e with { Data = altered } };
        // 2. Alice's JSON (SenderID alice) signed again by mallory: a valid signature, but not alice's.
        PubsubMessage resigned = await mallory.Router.PublishAsync("chat-room:lobby",
            RoomMessageCodec.Encode("i am alice", alice.LocalPeerId, "alice", DateTimeOffset.UtcNow), Ct);
        ChatMessage impersonation = new($"{alice.LocalPeerId}:{resigned.Seqno:x16}", "lobby", alice.LocalPeerId, "alice", "i am alice",
            DateTimeOffset.UtcNow, MessageOrigin.Room)
        { Envelope = SignedRoomMessage.Envelope(resigned) };
        // 3. A replay mallory re-signed as herself (rule S-6 of docs/LIMITS.md): it is hers, and counts as hers.
        ChatMessage replayedAsOwn = await mallory.PublishAsync("lobby", "mallory", original.Text, Ct) with { Origin = MessageOrigin.Room };
        // 4. Alice's message from another room: the topic is under the signature.
        ChatMessage otherRoom = original with { Id = original.Id.Replace(original.Id[^4..], "beef", StringComparison.Ordinal) };
        await malloryStore.AddAsync([genuine[0], tampered, impersonation, replayedAsOwn, genuine[2]], Ct);

        (Libp2pChatNetwork carol, SqliteMessageStore carolStore) = await StartAsync("carol");
        await carol.ConnectAsync(mallory.ListenAddresses[0], Ct);
        await ArrivedAsync(carol, 3);
        await TestHostsWaitAsync(() => carol.History!.InvalidFrom(mallory.Id()) == 2, "both forgeries counted");

        IReadOnlyList<ChatMessage> stored = await carolStore.AfterAsync("lobby", HistoryCursor.Start, 100, Ct);
        Assert.Equal(
            new[] { genuine[0].Id, replayedAsOwn.Id, genuine[2].Id }.Order(StringComparer.Ordinal),
            stored.Select(m => m.Id).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(stored, m => m.Text is "send mallory your keys" or "i am alice");
        Assert.Equal(mallory.LocalPeerId, Assert.Single(stored, m => m.Id == replayedAsOwn.Id).SenderId);
        Assert.Null(SignedRoomMessage.Open("other", otherRoom.Envelope!, DateTimeOffset.UtcNow, out string? error));
        Assert.Equal("signature does not verify", error);
    }

    [Fact(Timeout = 60_000)]
    public async Task Have_OfMaxHaveIdsIsAnswered_OneIdMoreIsRefused()
    {
        (Libp2pChatNetwork bob, SqliteMessageStore bobStore) = await StartAsync("bob");
        Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        _owned.Add(alice);
        await bobStore.AddAsync(await WriteAsync(alice, 3), Ct);
        await alice.ConnectAsync(bob.ListenAddresses[0], Ct);

        P2PStream stream = await alice.Host.OpenStreamAsync(bob.Id(), HistorySync.ProtocolId, Ct);
        List<HistoryResponse> answers = [];
        foreach (int ids in new[] { 512, 513 })
        {
            HistoryRequest request = new() { Room = "lobby", AfterTs = long.MinValue, Limit = 100 };
            request.Have.AddRange(Enumerable.Range(0, ids).Select(i => "unknown-" + i.ToString(CultureInfo.InvariantCulture)));
            await stream.Output.WriteLengthPrefixedAsync(request.ToByteArray(), Ct);
            byte[] frame = (await stream.Input.ReadLengthPrefixedAsync(HistorySync.MaxResponseBytes, HistorySync.ProtocolId, Ct))!;
            answers.Add(HistoryResponse.Parser.ParseFrom(frame));
        }
        await stream.CompleteOutputAsync();

        Assert.Equal("", answers[0].Error);
        Assert.Equal(3, answers[0].Messages.Count);
        Assert.Equal("more than 512 ids in have", answers[1].Error);
        Assert.Empty(answers[1].Messages);
    }

    [Fact(Timeout = 60_000)]
    public async Task AServedStreamWithNoRequest_IsResetAfterTheIdleTimeout_AndCounted()
    {
        TimeSpan idle = TimeSpan.FromSeconds(2);
        (Libp2pChatNetwork bob, _) = await StartAsync("bob", TestNetworks.Options with { ServedStreamIdleTimeout = idle });
        Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        _owned.Add(alice);
        await alice.ConnectAsync(bob.ListenAddresses[0], Ct);

        P2PStream stream = await alice.Host.OpenStreamAsync(bob.Id(), HistorySync.ProtocolId, Ct);
        long started = Environment.TickCount64;
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TestNetworks.Wait);
        await Assert.ThrowsAnyAsync<IOException>(async () =>
            await stream.Input.ReadLengthPrefixedAsync(HistorySync.MaxResponseBytes, HistorySync.ProtocolId, deadline.Token));
        TimeSpan took = TimeSpan.FromMilliseconds(Environment.TickCount64 - started);

        Assert.InRange(took, idle - TimeSpan.FromMilliseconds(500), idle + TimeSpan.FromSeconds(10));
        await TestHosts.WaitUntilAsync(() => bob.History!.IdleResets == 1, "the idle reset counted", TestNetworks.Wait);
        Assert.NotNull(alice.Host.GetConnection(bob.Id()));
    }

    [Fact(Timeout = 60_000)]
    public async Task Requests_AreRateLimited_AndAnswersCapped()
    {
        ChatNetworkOptions strict = TestNetworks.Options with { History = new HistorySyncOptions { RequestBurst = 2, RequestsPerSecond = 1 } };
        (Libp2pChatNetwork bob, SqliteMessageStore bobStore) = await StartAsync("bob", strict);
        // Without a store, alice does not sync by herself: every request below is the test's.
        Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        _owned.Add(alice);
        await bobStore.AddAsync(await WriteAsync(alice, 30), Ct);
        await alice.ConnectAsync(bob.ListenAddresses[0], Ct);

        P2PStream stream = await alice.Host.OpenStreamAsync(bob.Id(), HistorySync.ProtocolId, Ct);
        List<HistoryResponse> answers = [];
        for (int i = 0; i < 4; i++)
        {
            HistoryRequest request = new() { Room = "lobby", AfterTs = long.MinValue, Limit = 100_000 };
            await stream.Output.WriteLengthPrefixedAsync(request.ToByteArray(), Ct);
            byte[] frame = (await stream.Input.ReadLengthPrefixedAsync(HistorySync.MaxResponseBytes, HistorySync.ProtocolId, Ct))!;
            answers.Add(HistoryResponse.Parser.ParseFrom(frame));
        }
        await stream.CompleteOutputAsync();
        // The limit asked for is capped; the third request within the second is told to come back later.
        Assert.True(answers.Where(a => a.RetryAfterMs == 0).Take(2).All(a => a.Messages.Count == 30));
        Assert.Contains(answers, a => a.RetryAfterMs > 0 && a.Messages.Count == 0);
        Assert.InRange(answers.Count(a => a.RetryAfterMs == 0), 2, 3);
    }

    [Fact(Timeout = 60_000)]
    public async Task FetchedPages_GoToTheChat_WhichStoresThemWithThePosition_ThenShowsThemAsHistory()
    {
        (Libp2pChatNetwork alice, _) = await StartAsync("alice");
        (Libp2pChatNetwork bob, SqliteMessageStore bobStore) = await StartAsync("bob");
        List<ChatMessage> written = await WriteAsync(alice, HistorySync.MaxPageMessages + 20);
        await bobStore.AddAsync(written, Ct);

        // Carol as echo-chat wires her: one history file, read by the adapter, written by the chat.
        SqliteMessageStore carolStore = SqliteMessageStore.Open(Path.Combine(_directory, "carol.db"));
        _owned.Add(carolStore);
        Libp2pChatNetwork carolNetwork = new(TestNetworks.NewHost(), TestNetworks.Options, NullLoggerFactory.Instance, store: carolStore);
        ChatManager carol = new(carolNetwork, new ChatOptions { Nick = "carol", HistoryOnJoin = 0 }, NullLogger<ChatManager>.Instance,
            carolStore);
        _owned.Add(carol);
        using ChatSubscription shown = carol.Subscribe();
        await carol.StartAsync(Ct);
        await carol.ConnectAsync(bob.ListenAddresses[0], Ct);

        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TestNetworks.Wait);
        List<ChatMessage> history = [];
        while (history.Count < written.Count)
        {
            if (await shown.Events.ReadAsync(deadline.Token) is not MessageEvent e)
                continue;
            Assert.True(e.Message.FromHistory);
            // Stored before shown: the store has every message the chat showed.
            Assert.Single(await carolStore.AfterAsync("lobby", new HistoryCursor(e.Message.Timestamp.ToUnixTimeMilliseconds() - 1, ""),
                1000, Ct), m => m.Id == e.Message.Id);
            history.Add(e.Message);
        }
        Assert.Equal(written.Select(m => m.Id).Order(StringComparer.Ordinal), history.Select(m => m.Id).Order(StringComparer.Ordinal));
        Assert.NotNull(await carolStore.GetSyncPositionAsync("lobby", bob.LocalPeerId, Ct));
    }

    [Fact(Timeout = 60_000)]
    public async Task APageTheChatCouldNotStore_LeavesThePositionWhereItWas_AndIsFetchedAgainByTheNextSync()
    {
        (Libp2pChatNetwork alice, _) = await StartAsync("alice");
        (Libp2pChatNetwork bob, SqliteMessageStore bobStore) = await StartAsync("bob");
        // Two pages: were the sync to go on past a page the chat refused, the second page would be
        // stored with a position past the first, and the first lost for good.
        List<ChatMessage> written = await WriteAsync(alice, HistorySync.MaxPageMessages + 20);
        await bobStore.AddAsync(written, Ct);
        FailingStore? failing = null;
        // Carol is in no room, so nothing but the test starts a sync.
        (Libp2pChatNetwork carol, SqliteMessageStore carolStore) = await StartAsync("carol", join: false,
            writeTo: s => failing = new FailingStore(s) { FailSyncedWrites = 1 });
        await carol.ConnectAsync(bob.ListenAddresses[0], Ct);

        await carol.History!.SyncAsync(bob.Id(), "lobby", Ct);
        Assert.Equal(1, _writers[carol].Refused);
        Assert.Equal(1, failing!.SyncedWrites);
        Assert.Empty(await carolStore.LatestAsync("lobby", 10, Ct));
        Assert.Null(await carolStore.GetSyncPositionAsync("lobby", bob.LocalPeerId, Ct));

        await carol.History.SyncAsync(bob.Id(), "lobby", Ct);
        List<ChatMessage> arrived = await ArrivedAsync(carol, written.Count);
        Assert.Equal(written.Select(m => m.Id), arrived.Select(m => m.Id));
        Assert.Equal(written.Count, (await carolStore.AfterAsync("lobby", HistoryCursor.Start, 10_000, Ct)).Count);
        Assert.NotNull(await carolStore.GetSyncPositionAsync("lobby", bob.LocalPeerId, Ct));
        Assert.Equal(1, _writers[carol].Refused);
    }

    [Fact(Timeout = 90_000)]
    public async Task TenSharedRooms_SyncedOnConnect_NoneRefusedByTheResponder_TheSyncsWithOnePeerTakeTurns()
    {
        string[] rooms = [.. Enumerable.Range(0, 10).Select(i => $"room{i}")];
        (Libp2pChatNetwork alice, _) = await StartAsync("alice", join: false);
        (Libp2pChatNetwork bob, SqliteMessageStore bobStore) = await StartAsync("bob", join: false);
        List<ChatMessage> written = [];
        foreach (string room in rooms)
        {
            await alice.JoinRoomAsync(room, Ct);
            for (int i = 0; i < 40; i++)
                written.Add(await alice.PublishAsync(room, "alice", $"{room} {i}", Ct) with { Origin = MessageOrigin.Room });
        }
        await bobStore.AddAsync(written, Ct);
        (Libp2pChatNetwork carol, SqliteMessageStore carolStore) = await StartAsync("carol", join: false);
        foreach (string room in rooms)
            await carol.JoinRoomAsync(room, Ct);

        // Identify starts one sync per shared room at once; bob serves at most 8 history streams per peer.
        await carol.ConnectAsync(bob.ListenAddresses[0], Ct);
        List<ChatMessage> arrived = await ArrivedAsync(carol, written.Count);

        Assert.Equal(written.Select(m => m.Id).Order(StringComparer.Ordinal), arrived.Select(m => m.Id).Order(StringComparer.Ordinal));
        foreach (string room in rooms)
            Assert.Equal(40, (await carolStore.AfterAsync(room, HistoryCursor.Start, 100, Ct)).Count);
        Assert.Equal(0, bob.Host.ResourceSnapshot().Refused[Echo.Net.ResourceManager.LimitKind.StreamsPerProtocol]);
    }

    private static Task TestHostsWaitAsync(Func<bool> condition, string what) =>
        TestHosts.WaitUntilAsync(condition, what, TestNetworks.Wait);
}
