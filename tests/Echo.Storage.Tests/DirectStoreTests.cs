using Echo.Core.Direct;
using Microsoft.Data.Sqlite;

namespace Echo.Storage.Tests;

public sealed class DirectStoreTests : IDisposable
{
    private const string Bob = "12D3KooWBob";
    private const string Carol = "12D3KooWCarol";

    private readonly string _directory = Directory.CreateTempSubdirectory("echo-direct-store-test-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string DbPath => Path.Combine(_directory, SqliteMessageStore.FileName);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private static DirectMessage Sent(string peer, string text, long ms) =>
        new(DirectIds.New(), peer, "me", text, DateTimeOffset.FromUnixTimeMilliseconds(ms), Outgoing: true, Delivered: false);

    [Fact(Timeout = 30_000)]
    public async Task Outbox_KeepsUndeliveredInOrder_AcrossAReopen()
    {
        DirectMessage first = Sent(Bob, "first", 1000), second = Sent(Bob, "second", 2000), other = Sent(Carol, "hi", 1500);
        DirectMessage received = new(DirectIds.New(), Bob, "bob", "yo", DateTimeOffset.FromUnixTimeMilliseconds(1200), false, true);
        await using (SqliteMessageStore store = SqliteMessageStore.Open(DbPath))
        {
            Assert.True(store.CanStoreDirectMessages);
            foreach (DirectMessage m in new[] { first, received, other, second })
                Assert.True(await store.AddAsync(m, Ct));
            Assert.False(await store.AddAsync(received with { Text = "altered" }, Ct));   // the same id from the same peer: once
            await store.MarkDeliveredAsync(Bob, first.Id, Ct);
        }

        await using SqliteMessageStore reopened = SqliteMessageStore.Open(DbPath);
        Assert.Equal([second], await reopened.OutboxAsync(Bob, Ct));
        Assert.Equal([other, second], await reopened.OutboxAsync(null, Ct));
        Assert.Equal([first with { Delivered = true }, received, second], await reopened.ConversationAsync(Bob, 10, Ct));
        Assert.Equal([received, second], await reopened.ConversationAsync(Bob, 2, Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task AddAll_StoresABatchInOneWrite_EachIdOnce()
    {
        DirectMessage[] batch = [.. Enumerable.Range(0, 50).Select(i =>
            new DirectMessage(DirectIds.New(), Bob, "bob", $"m{i}", DateTimeOffset.FromUnixTimeMilliseconds(1000 + i), false, true))];
        await using SqliteMessageStore store = SqliteMessageStore.Open(DbPath);
        Assert.True(await store.AddAsync(batch[3], Ct));
        IReadOnlyList<bool> added = await ((Echo.Core.Ports.IDirectStore)store).AddAllAsync([.. batch, batch[7]], Ct);
        Assert.Equal([.. batch.Select((_, i) => i != 3), false], added);   // stored before, and twice in the batch: once
        Assert.Equal(50, (await store.ConversationAsync(Bob, 100, Ct)).Count);
    }
}
