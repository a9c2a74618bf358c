using Echo.Core.Chat;
using Echo.Core.Ports;
using Microsoft.Data.Sqlite;

namespace Echo.Storage.Tests;

/// <summary>/me actions keep their flag in the history, also in receive order (history sync) and in a file from before the flag.</summary>
public sealed class ActionFlagTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("echo-action-flag-test-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private static ChatMessage Message(int n) =>
        SqliteMessageStoreTests.Message("lobby", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + n, "12D3KooWAuthor", n);

    [Fact(Timeout = 30_000)]
    public async Task TheActionFlag_IsKept_AcrossAReopen_AndInReceiveOrder()
    {
        string path = Path.Combine(_directory, "store.db");
        await using (SqliteMessageStore store = SqliteMessageStore.Open(path))
            await store.AddAsync([Message(1) with { Action = true }, Message(2)], Ct);

        await using SqliteMessageStore reopened = SqliteMessageStore.Open(path);
        IReadOnlyList<ChatMessage> latest = await reopened.LatestAsync("lobby", 10, Ct);
        Assert.Equal([true, false], latest.Select(m => m.Action));
        ReceivedPage page = await reopened.ReceivedAfterAsync("lobby", SyncPosition.Start, 10, Ct);
        Assert.Equal([true, false], page.Messages.Select(m => m.Message.Action));
        Assert.Equal([1L, 2L], page.Messages.Select(m => m.Seq));
    }

    [Fact(Timeout = 30_000)]
    public async Task ADirectAction_KeepsItsFlag_InTheConversationAndTheOutbox_AcrossAReopen()
    {
        string path = Path.Combine(_directory, "direct.db");
        DateTimeOffset now = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        await using (SqliteMessageStore store = SqliteMessageStore.Open(path))
        {
            await store.AddAllAsync(
            [
                new Echo.Core.Direct.DirectMessage(Echo.Core.Direct.DirectIds.New(), "12D3KooWBob", "alice", "waves", now, Outgoing: true, Delivered: false)
                {
                    Action = true,
                },
                new Echo.Core.Direct.DirectMessage(Echo.Core.Direct.DirectIds.New(), "12D3KooWBob", "alice", "plain", now.AddSeconds(1), Outgoing: true,
                    Delivered: false),
            ], Ct);
        }

        await using SqliteMessageStore reopened = SqliteMessageStore.Open(path);
        Assert.Equal([("waves", true), ("plain", false)], (await reopened.ConversationAsync("12D3KooWBob", 10, Ct)).Select(m => (m.Text, m.Action)));
        Assert.Equal([("waves", true), ("plain", false)], (await reopened.OutboxAsync("12D3KooWBob", Ct)).Select(m => (m.Text, m.Action)));
    }

    [Fact(Timeout = 30_000)]
    public async Task AFileFromBeforeTheFlag_IsUpgraded_ItsMessagesPlain()
    {
        string path = Path.Combine(_directory, "old.db");
        using (SqliteConnection raw = new($"Data Source={path};Pooling=False"))
        {
            raw.Open();
            for (int i = 0; i < Schema.Migrations.Length - 1; i++)
                Execute(raw, Schema.Migrations[i]);
            Execute(raw, $"PRAGMA user_version = {Schema.Migrations.Length - 1}; PRAGMA application_id = {Schema.ApplicationId}");
            Execute(raw, "INSERT INTO messages (id, room, sender, nick, text, ts, received, origin) VALUES ('a:1', 'lobby', 'a', 'a', 't', 1700000000000, 1700000000000, 1)");
        }

        await using SqliteMessageStore store = SqliteMessageStore.Open(path);

        Assert.Null(store.Problem);
        Assert.False(Assert.Single(await store.LatestAsync("lobby", 10, Ct)).Action);
        await store.AddAsync([Message(3) with { Action = true }], Ct);
        Assert.Contains(await store.LatestAsync("lobby", 10, Ct), m => m.Action);
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
