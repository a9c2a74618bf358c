using Echo.Core.Chat;
using Echo.Core.Ports;
using Microsoft.Data.Sqlite;

namespace Echo.Storage.Tests;

/// <summary>History sync's cursor as the store keeps it: positions in the responder's receive order, named by its epoch.</summary>
public sealed class ReceiveOrderTests : IDisposable
{
    private static readonly DateTimeOffset Year2999 = new(2999, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Year1970 = DateTimeOffset.UnixEpoch.AddSeconds(1);

    private readonly string _directory = Directory.CreateTempSubdirectory("echo-receive-order-test-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private SqliteMessageStore Open(string name) => SqliteMessageStore.Open(Path.Combine(_directory, name + ".db"));

    private static ChatMessage At(DateTimeOffset time, int n, string author = "12D3KooWAuthor") =>
        SqliteMessageStoreTests.Message("lobby", time.ToUnixTimeMilliseconds(), author, n);

    /// <summary>
    /// One sync as the protocol runs it, page by page: ask the responder after the requester's
    /// position for the peer, store each page with where it ended. Returns what was new.
    /// </summary>
    private static async Task<List<ChatMessage>> SyncAsync(SqliteMessageStore requester, SqliteMessageStore responder, int pageSize = 4)
    {
        List<ChatMessage> added = [];
        SyncPosition position = await requester.GetSyncPositionAsync("lobby", "responder", Ct) ?? SyncPosition.Start;
        while (true)
        {
            ReceivedPage page = await responder.ReceivedAfterAsync("lobby", position, pageSize, Ct);
            long start = position.Epoch == page.Epoch ? position.Seq : 0;
            position = new SyncPosition(page.Epoch, page.Messages.Count > 0 ? page.Messages[^1].Seq : start);
            added.AddRange(await requester.AddSyncedAsync("lobby", "responder", [.. page.Messages.Select(m => m.Message)], position, Ct));
            if (page.Messages.Count < pageSize)
                return added;
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task FirstSync_SecondAfterAnEmptyOne_AndTheTenth_EachGetWhatArrivedSince_WhateverTheAuthorsClocksSay()
    {
        await using SqliteMessageStore responder = Open("responder");
        await using SqliteMessageStore requester = Open("requester");
        DateTimeOffset now = DateTimeOffset.UtcNow;

        // First sync of an empty room: nothing, but a position in the responder's epoch.
        Assert.Empty(await SyncAsync(requester, responder));
        SyncPosition? afterEmpty = await requester.GetSyncPositionAsync("lobby", "responder", Ct);
        Assert.NotNull(afterEmpty);
        Assert.NotEqual("", afterEmpty.Value.Epoch);
        Assert.Equal(0, afterEmpty.Value.Seq);

        int n = 0;
        for (int round = 2; round <= 10; round++)
        {
            // What the responder received while the requester was away: ten messages, in round 3 one
            // dated 2999 and in round 5 one dated 1970 among them, and always one older than the rest
            // (a late relay); none of that may hide anything from this round or a later one.
            List<ChatMessage> arrived = [];
            for (int i = 0; i < 10; i++)
                arrived.Add(At(now.AddSeconds(round * 10 + i), ++n));
            if (round == 3)
                arrived[4] = At(Year2999, ++n, "12D3KooWFuture");
            if (round == 5)
                arrived[6] = At(Year1970, ++n, "12D3KooWPast");
            arrived[9] = At(now.AddDays(-3), ++n, "12D3KooWLate");
            await responder.AddAsync(arrived, Ct);

            List<ChatMessage> got = await SyncAsync(requester, responder);
            Assert.Equal(arrived.Select(m => m.Id), got.Select(m => m.Id));
            // And nothing more the next time.
            Assert.Empty(await SyncAsync(requester, responder));
        }
        Assert.Equal(await responder.CountAsync(Ct), await requester.CountAsync(Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task APositionOfAnotherEpoch_StartsFromTheFirstMessage_AndOneBeyondTheEnd_GetsNothing()
    {
        await using SqliteMessageStore old = Open("old");
        await using SqliteMessageStore replaced = Open("replaced");
        DateTimeOffset now = DateTimeOffset.UtcNow;
        await old.AddAsync([At(now, 1), At(now, 2)], Ct);
        await replaced.AddAsync([At(now, 3)], Ct);
        ReceivedPage fromOld = await old.ReceivedAfterAsync("lobby", SyncPosition.Start, 10, Ct);
        Assert.Equal(2, fromOld.Messages.Count);
        Assert.True(fromOld.Messages[0].Seq < fromOld.Messages[1].Seq);

        // A peer's history file was replaced: the position we kept for it names the old epoch.
        ReceivedPage page = await replaced.ReceivedAfterAsync("lobby", new SyncPosition(fromOld.Epoch, fromOld.Messages[^1].Seq + 100), 10, Ct);
        Assert.NotEqual(fromOld.Epoch, page.Epoch);
        Assert.Equal(At(now, 3).Id, Assert.Single(page.Messages).Message.Id);
        Assert.Empty((await old.ReceivedAfterAsync("lobby", new SyncPosition(fromOld.Epoch, long.MaxValue), 10, Ct)).Messages);
        Assert.Empty((await old.ReceivedAfterAsync("other", SyncPosition.Start, 10, Ct)).Messages);
    }

    [Fact(Timeout = 30_000)]
    public async Task LastReceivedIds_AreTheNewestByArrival_NotByAuthorsTime()
    {
        await using SqliteMessageStore store = Open("store");
        DateTimeOffset now = DateTimeOffset.UtcNow;
        await store.AddAsync([At(Year2999, 1), At(now, 2)], Ct);
        await store.AddAsync([At(Year1970, 3)], Ct);
        Assert.Equal([At(Year1970, 3).Id, At(now, 2).Id], await store.LastReceivedIdsAsync("lobby", 2, Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task ClampedMark_IsKept()
    {
        await using (SqliteMessageStore store = Open("store"))
            await store.AddAsync([At(DateTimeOffset.UtcNow, 1) with { ClockClamped = true }, At(DateTimeOffset.UtcNow, 2)], Ct);
        await using SqliteMessageStore reopened = Open("store");
        IReadOnlyList<ChatMessage> read = await reopened.LatestAsync("lobby", 10, Ct);
        Assert.Equal([true, false], read.OrderBy(m => m.Id, StringComparer.Ordinal).Select(m => m.ClockClamped));
    }

    [Fact(Timeout = 30_000)]
    public async Task UpgradedFile_GetsAnEpoch_AndItsImplausibleAuthorTimes_AreClampedToArrival()
    {
        string path = Path.Combine(_directory, "upgraded.db");
        long received = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using (SqliteConnection raw = new($"Data Source={path};Pooling=False"))
        {
            raw.Open();
            // The file as the version before receive order left it.
            Execute(raw, Schema.Migrations[0]);
            Execute(raw, Schema.Migrations[1]);
            Execute(raw, $"PRAGMA user_version = 2; PRAGMA application_id = {Schema.ApplicationId}");
            foreach ((string id, long ts, int origin) in new[]
                     {
                         ("a:future", Year2999.ToUnixTimeMilliseconds(), 1), ("a:ancient", Year1970.ToUnixTimeMilliseconds(), 1),
                         ("a:fine", received - 60_000, 1), ("a:own", Year2999.ToUnixTimeMilliseconds(), 0),
                     })
                Execute(raw, $"INSERT INTO messages (id, room, sender, nick, text, ts, received, origin) " +
                             $"VALUES ('{id}', 'lobby', 'a', 'a', 't', {ts}, {received}, {origin})");
        }
        await using SqliteMessageStore store = SqliteMessageStore.Open(path);
        Assert.Null(store.Problem);
        Dictionary<string, ChatMessage> read = (await store.LatestAsync("lobby", 10, Ct)).ToDictionary(m => m.Id);
        string[] ids = ["a:future", "a:ancient"];
        Assert.All(ids, id =>
        {
            Assert.True(read[id].ClockClamped);
            Assert.Equal(received, read[id].Timestamp.ToUnixTimeMilliseconds());
        });
        Assert.False(read["a:fine"].ClockClamped);
        Assert.False(read["a:own"].ClockClamped);
        ReceivedPage page = await store.ReceivedAfterAsync("lobby", SyncPosition.Start, 10, Ct);
        Assert.Equal(32, page.Epoch.Length);
        Assert.Equal(4, page.Messages.Count);
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
