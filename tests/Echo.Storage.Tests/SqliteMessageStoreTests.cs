using Echo.Core.Chat;
using Echo.Core.Ports;
using Microsoft.Data.Sqlite;

namespace Echo.Storage.Tests;

public sealed class SqliteMessageStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("echo-store-test-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DbPath => Path.Combine(_directory, SqliteMessageStore.FileName);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    internal static ChatMessage Message(string room, long ms, string author = "12D3KooWAuthor", int n = 0, bool signed = true) =>
        new($"{author}:{ms:x12}{n:x4}", room, author, "nick", $"text {ms} {n}", DateTimeOffset.FromUnixTimeMilliseconds(ms),
            signed ? MessageOrigin.Room : MessageOrigin.EchoGo)
        {
            Envelope = signed ? new SignedEnvelope([1, 2], [0, 0, 0, 0, 0, 0, 0, (byte)n], [3], [4, 5], []) : null,
        };

    [Fact(Timeout = 30_000)]
    public async Task Search_FindsTextInOneRoom_TakesLikeCharactersLiterally_AndReturnsTheNewestBounded()
    {
        await using SqliteMessageStore store = SqliteMessageStore.Open(DbPath);
        await store.AddAsync(
        [
            Message("lobby", 1000) with { Text = "Deploy at noon" },
            Message("lobby", 2000) with { Text = "100% done" },
            Message("lobby", 3000) with { Text = "1000 done" },
            Message("lobby", 4000) with { Text = "a_b and a\\b" },
            Message("lobby", 5000) with { Text = "axb" },
            Message("ops", 6000) with { Text = "deploy elsewhere" },
            Message("lobby", 7000) with { Text = "deploy again" },
        ], Ct);

        Assert.Equal(["Deploy at noon", "deploy again"], (await store.SearchAsync("lobby", "DEPLOY", 10, Ct)).Select(m => m.Text));
        Assert.Equal(["deploy again"], (await store.SearchAsync("lobby", "deploy", 1, Ct)).Select(m => m.Text)); // the newest
        Assert.Equal(["100% done"], (await store.SearchAsync("lobby", "0%", 10, Ct)).Select(m => m.Text));
        Assert.Equal(["a_b and a\\b"], (await store.SearchAsync("lobby", "a_b", 10, Ct)).Select(m => m.Text));
        Assert.Equal(["a_b and a\\b"], (await store.SearchAsync("lobby", "a\\b", 10, Ct)).Select(m => m.Text));
        Assert.Empty(await store.SearchAsync("lobby", "", 10, Ct));
        Assert.Empty(await store.SearchAsync("lobby", "deploy", 0, Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task Add_StoresEachIdOnce_AndReadsBackEverything()
    {
        await using SqliteMessageStore store = SqliteMessageStore.Open(DbPath);
        Assert.Null(store.Problem);
        ChatMessage first = Message("lobby", 1000);
        ChatMessage unsigned = Message("lobby", 2000, "12D3KooWGo", signed: false);
        Assert.Equal([first, unsigned], await store.AddAsync([first, unsigned], Ct));
        // A relayed or replayed copy (same author and seqno) is stored once, whatever else it says.
        ChatMessage replay = first with { Text = "altered", Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(5000) };
        Assert.Empty(await store.AddAsync([replay, first], Ct));
        IReadOnlyList<ChatMessage> all = await store.LatestAsync("lobby", 10, Ct);
        Assert.Equal(2, all.Count);
        ChatMessage read = all[0];
        Assert.Equal((first.Id, first.Text, first.SenderId, first.Timestamp, first.Origin), (read.Id, read.Text, read.SenderId, read.Timestamp, read.Origin));
        Assert.Equal(first.Envelope!.Signature, read.Envelope!.Signature);
        Assert.Equal(first.Envelope.Seqno, read.Envelope.Seqno);
        Assert.Empty(read.Envelope.Key);
        Assert.Null(all[1].Envelope);
        Assert.Equal(2, await store.CountAsync(Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task Paging_ByTimeThenId_WithinOneRoom()
    {
        await using SqliteMessageStore store = SqliteMessageStore.Open(DbPath);
        List<ChatMessage> messages = [.. Enumerable.Range(0, 50).Select(i => Message("lobby", 1000 + i / 2, n: i % 2))];
        await store.AddAsync([.. messages.AsEnumerable().Reverse()], Ct);
        await store.AddAsync([Message("other", 1010, "12D3KooWOther")], Ct);
        List<ChatMessage> ordered = [.. messages.OrderBy(HistoryCursor.Of)];

        Assert.Equal(ordered[^5..].Select(m => m.Id), (await store.LatestAsync("lobby", 5, Ct)).Select(m => m.Id));
        Assert.Equal(ordered[15..20].Select(m => m.Id),
            (await store.BeforeAsync("lobby", HistoryCursor.Of(ordered[20]), 5, Ct)).Select(m => m.Id));
        Assert.Equal(ordered[21..24].Select(m => m.Id),
            (await store.AfterAsync("lobby", HistoryCursor.Of(ordered[20]), 3, Ct)).Select(m => m.Id));
        Assert.Equal(ordered.Select(m => m.Id), (await store.AfterAsync("lobby", HistoryCursor.Start, 100, Ct)).Select(m => m.Id));
        Assert.Empty(await store.BeforeAsync("lobby", HistoryCursor.Of(ordered[0]), 5, Ct));
        Assert.Single(await store.LatestAsync("other", 5, Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task RoomsAndSyncCursors_SurviveReopening()
    {
        await using (SqliteMessageStore store = SqliteMessageStore.Open(DbPath))
        {
            await store.SaveRoomsAsync(["lobby", "dev"], Ct);
            await store.SaveRoomsAsync(["dev", "lobby", "ops"], Ct);
            Assert.Null(await store.GetSyncCursorAsync("dev", "peer", Ct));
            IReadOnlyList<ChatMessage> added = await store.AddSyncedAsync("dev", "peer", [Message("dev", 5)], new HistoryCursor(7, "x"), Ct);
            Assert.Single(added);
            await store.AddSyncedAsync("dev", "peer", [], new HistoryCursor(9, "y"), Ct);
        }
        await using SqliteMessageStore reopened = SqliteMessageStore.Open(DbPath);
        Assert.Null(reopened.Problem);
        Assert.Equal(["dev", "lobby", "ops"], await reopened.LoadRoomsAsync(Ct));
        Assert.Equal(new HistoryCursor(9, "y"), await reopened.GetSyncCursorAsync("dev", "peer", Ct));
        Assert.Single(await reopened.LatestAsync("dev", 10, Ct));
        Assert.Equal("ok", await reopened.IntegrityCheckAsync(Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task NewFile_IsWalWithFullSync_MarkedAsEchos_AtTheCurrentVersion()
    {
        await using (SqliteMessageStore store = SqliteMessageStore.Open(DbPath))
            await store.AddAsync([Message("lobby", 1)], Ct);
        using SqliteConnection raw = new($"Data Source={DbPath};Pooling=False");
        raw.Open();
        Assert.Equal("wal", Scalar(raw, "PRAGMA journal_mode"));
        Assert.Equal((long)Schema.ApplicationId, Scalar(raw, "PRAGMA application_id"));
        Assert.Equal((long)Schema.Version, Scalar(raw, "PRAGMA user_version"));
    }

    [Fact(Timeout = 30_000)]
    public async Task ForeignDatabase_IsLeftAlone_HistoryOff_WithAClearProblem()
    {
        using (SqliteConnection raw = new($"Data Source={DbPath};Pooling=False"))
        {
            raw.Open();
            Execute(raw, "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me'); PRAGMA application_id = 42");
        }
        byte[] before = await File.ReadAllBytesAsync(DbPath, Ct);
        await using (SqliteMessageStore store = SqliteMessageStore.Open(DbPath))
        {
            Assert.False(store.IsAvailable);
            Assert.True(store.IsReadOnly);
            Assert.Contains("another program", store.Problem);
            Assert.Empty(await store.LatestAsync("lobby", 10, Ct));
            await Assert.ThrowsAsync<MessageStoreException>(() => store.AddAsync([Message("lobby", 1)], Ct));
        }
        Assert.Equal(before, await File.ReadAllBytesAsync(DbPath, Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task NotADatabase_IsCopiedAside_HistoryOff()
    {
        byte[] garbage = [.. Enumerable.Range(0, 8192).Select(i => (byte)(i * 7))];
        await File.WriteAllBytesAsync(DbPath, garbage, Ct);
        await using (SqliteMessageStore store = SqliteMessageStore.Open(DbPath))
        {
            Assert.False(store.IsAvailable);
            Assert.Contains("not a database", store.Problem);
            Assert.NotNull(store.BackupPath);
            Assert.Equal(garbage, await File.ReadAllBytesAsync(store.BackupPath!, Ct));
        }
        Assert.Equal(garbage, await File.ReadAllBytesAsync(DbPath, Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task GarbagePage_FailsTheCheck_CopyKept_OpenedReadOnly()
    {
        await using (SqliteMessageStore store = SqliteMessageStore.Open(DbPath))
            await store.AddAsync([.. Enumerable.Range(0, 2000).Select(i => Message("lobby", i))], Ct);
        Checkpoint();
        // Overwrite a page in the middle of the file (not the header): the table or index b-tree breaks.
        await using (FileStream file = new(DbPath, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 4096 * 3;
            file.Write([.. Enumerable.Repeat((byte)0x5A, 4096)]);
        }
        await using SqliteMessageStore damaged = SqliteMessageStore.Open(DbPath);
        Assert.True(damaged.IsReadOnly);
        Assert.True(damaged.IsAvailable);
        Assert.Contains("damaged", damaged.Problem);
        Assert.True(File.Exists(damaged.BackupPath));
        await Assert.ThrowsAsync<MessageStoreException>(() => damaged.AddAsync([Message("lobby", 99_999)], Ct));
        await Assert.ThrowsAsync<MessageStoreException>(() => damaged.SaveRoomsAsync(["x"], Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task EmptyFile_BecomesANewHistory()
    {
        await File.WriteAllBytesAsync(DbPath, [], Ct);
        await using SqliteMessageStore store = SqliteMessageStore.Open(DbPath);
        Assert.Null(store.Problem);
        Assert.Single(await store.AddAsync([Message("lobby", 1)], Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task TruncatedWal_LosesOnlyTheTornCommit_AndIsIntact()
    {
        // Keep the write-ahead log: a store is copied while open, as after a crash.
        string crashed = Path.Combine(_directory, "crashed.db");
        await using (SqliteMessageStore store = SqliteMessageStore.Open(DbPath))
        {
            await store.AddAsync([Message("lobby", 1)], Ct);
            await store.AddAsync([.. Enumerable.Range(2, 200).Select(i => Message("lobby", i))], Ct);
            File.Copy(DbPath, crashed);
            File.Copy(DbPath + "-wal", crashed + "-wal");
        }
        long length = new FileInfo(crashed + "-wal").Length;
        await using (FileStream wal = new(crashed + "-wal", FileMode.Open, FileAccess.Write))
            wal.SetLength(length - 1000);
        await using SqliteMessageStore reopened = SqliteMessageStore.Open(crashed);
        Assert.Null(reopened.Problem);
        Assert.Equal("ok", await reopened.IntegrityCheckAsync(Ct));
        long count = await reopened.CountAsync(Ct);
        Assert.True(count is 1 or 201, $"{count} messages: a commit came back torn");
    }

    [Fact(Timeout = 30_000)]
    public async Task NewerSchema_IsLeftAlone()
    {
        await using (SqliteMessageStore store = SqliteMessageStore.Open(DbPath))
            await store.AddAsync([Message("lobby", 1)], Ct);
        using (SqliteConnection raw = new($"Data Source={DbPath};Pooling=False"))
        {
            raw.Open();
            Execute(raw, $"PRAGMA user_version = {Schema.Version + 1}");
        }
        await using SqliteMessageStore newer = SqliteMessageStore.Open(DbPath);
        Assert.Contains("newer echo-chat", newer.Problem);
        Assert.False(newer.IsAvailable);
    }

    [Fact(Timeout = 30_000)]
    public void MissingFile_WhenItMustExist_IsAnError()
    {
        MessageStoreException e = Assert.Throws<MessageStoreException>(() => SqliteMessageStore.Open(DbPath, mustExist: true));
        Assert.Contains("no history", e.Message);
        Assert.False(File.Exists(DbPath));
    }

    private void Checkpoint()
    {
        using SqliteConnection raw = new($"Data Source={DbPath};Pooling=False");
        raw.Open();
        Execute(raw, "PRAGMA wal_checkpoint(TRUNCATE)");
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}
