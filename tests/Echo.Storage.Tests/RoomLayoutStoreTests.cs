using Microsoft.Data.Sqlite;

namespace Echo.Storage.Tests;

/// <summary>The joined rooms' order and the current room as the store keeps them, also in a file from before the current room was kept.</summary>
public sealed class RoomLayoutStoreTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("echo-room-layout-test-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DbPath => Path.Combine(_directory, "history.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact(Timeout = 30_000)]
    public async Task OrderAndCurrentRoom_SurviveReopening_AndASaveWithoutACurrentRoomKeepsIt()
    {
        await using (SqliteMessageStore store = SqliteMessageStore.Open(DbPath))
        {
            Assert.Null(await store.LoadCurrentRoomAsync(Ct));
            await store.SaveRoomsAsync(["ops", "lobby", "dev"], "dev", Ct);
            await store.SaveRoomsAsync(["lobby", "ops", "dev"], Ct);   // reordered: the current room stays marked
        }
        await using (SqliteMessageStore reopened = SqliteMessageStore.Open(DbPath))
        {
            Assert.Equal(["lobby", "ops", "dev"], await reopened.LoadRoomsAsync(Ct));
            Assert.Equal("dev", await reopened.LoadCurrentRoomAsync(Ct));
            await reopened.SaveRoomsAsync(["lobby", "ops"], Ct);   // the current room left: none is current
            Assert.Null(await reopened.LoadCurrentRoomAsync(Ct));
            await reopened.SaveRoomsAsync(["lobby", "ops"], "ops", Ct);
        }
        await using SqliteMessageStore again = SqliteMessageStore.Open(DbPath);
        Assert.Equal("ops", await again.LoadCurrentRoomAsync(Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task AFileOfTheVersionBefore_IsUpgraded_KeepingItsRoomsInOrder_WithNoCurrentRoom()
    {
        using (SqliteConnection raw = new($"Data Source={DbPath};Pooling=False"))
        {
            raw.Open();
            // The file as the version before the current room was kept.
            for (int i = 0; i < 3; i++)
                Execute(raw, Schema.Migrations[i]);
            Execute(raw, $"PRAGMA user_version = 3; PRAGMA application_id = {Schema.ApplicationId}");
            Execute(raw, "INSERT INTO rooms (position, name) VALUES (0, 'dev'), (1, 'lobby'), (2, 'ops')");
        }
        await using (SqliteMessageStore store = SqliteMessageStore.Open(DbPath))
        {
            Assert.Null(store.Problem);
            Assert.Equal(["dev", "lobby", "ops"], await store.LoadRoomsAsync(Ct));
            Assert.Null(await store.LoadCurrentRoomAsync(Ct));
            await store.SaveRoomsAsync(["dev", "lobby", "ops"], "lobby", Ct);
        }
        using SqliteConnection check = new($"Data Source={DbPath};Pooling=False");
        check.Open();
        using SqliteCommand version = check.CreateCommand();
        version.CommandText = "PRAGMA user_version";
        Assert.Equal((long)Schema.Version, version.ExecuteScalar());
        Assert.True(Schema.Version >= 4);
        using SqliteCommand current = check.CreateCommand();
        current.CommandText = "SELECT name FROM rooms WHERE current = 1";
        Assert.Equal("lobby", current.ExecuteScalar());
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
