using System.Diagnostics;
using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Ports;
using Echo.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Echo.Protocols.Tests.Limits;

/// <summary>
/// The storage quota (docs/LIMITS.md, L-store-quota) between real libp2p nodes on 127.0.0.1: one
/// author floods a room; what the target stores of it stays bounded, an honest peer's messages
/// during the flood are all stored, and the target's log hardly grows.
/// </summary>
public sealed class RoomFloodTests : IAsyncDisposable
{
    private const int FloodMessages = 100_000;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly string _directory = Directory.CreateTempSubdirectory("echo-flood-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact(Timeout = 600_000)]
    public async Task OneAuthorSending100000RoomMessages_IsStoredWithinItsQuota_TheHonestPeersAllAre_AndTheLogStaysSmall()
    {
        CountingLoggerFactory log = new();
        SqliteMessageStore store = SqliteMessageStore.Open(Path.Combine(_directory, "target.db"));
        _owned.Add(store);
        Libp2pChatNetwork targetNetwork = new(TestNetworks.NewHost(log), TestNetworks.Options, log, store: store);
        ChatManager target = new(targetNetwork, new ChatOptions { Nick = "target" }, log.CreateLogger<ChatManager>(), store);
        _owned.Add(target);
        await target.StartAsync(Ct);
        Libp2pChatNetwork flooder = await TestNetworks.StartAsync();
        _owned.Add(flooder);
        Libp2pChatNetwork honest = await TestNetworks.StartAsync();
        _owned.Add(honest);
        foreach (Libp2pChatNetwork peer in (Libp2pChatNetwork[])[flooder, honest])
        {
            await peer.JoinRoomAsync("lobby", Ct);
            await peer.ConnectAsync(targetNetwork.ListenAddresses[0], Ct);
            await TestNetworks.InMeshAsync(peer, targetNetwork);
        }
        long logBefore = log.Bytes;

        Stopwatch clock = Stopwatch.StartNew();
        using CancellationTokenSource floodDone = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task flood = Task.Run(async () =>
        {
            try
            {
                for (int i = 0; i < FloodMessages; i++)
                    await flooder.PublishAsync("lobby", "flood", $"flood {i}", Ct);
            }
            finally
            {
                await floodDone.CancelAsync();
            }
        }, Ct);
        // The honest peer says a line a second (as fast as people type) while the flood lasts (at least 5).
        List<string> said = [];
        while (!floodDone.IsCancellationRequested || said.Count < 5)
        {
            said.Add((await honest.PublishAsync("lobby", "honest", $"honest {said.Count}", Ct)).Id);
            await Task.WhenAny(Task.Delay(1000, Ct), flood);
            if (flood.IsCompleted && said.Count >= 5)
                break;
        }
        await flood;
        string last = said[^1];
        await TestHosts.WaitUntilAsync(() => target.RecentMessages("lobby").Any(m => m.Id == last),
            "the honest peer's last line is shown", TimeSpan.FromSeconds(120));
        double seconds = clock.Elapsed.TotalSeconds;

        IReadOnlyList<ChatMessage> stored = await store.AfterAsync("lobby", HistoryCursor.Start, 1_000_000, Ct);
        HashSet<string> storedIds = [.. stored.Select(m => m.Id)];
        Assert.All(said, id => Assert.Contains(id, storedIds));
        int flooded = stored.Count(m => m.SenderId == flooder.LocalPeerId);
        // Its burst (100), then one a second however long the flood took: not 100,000.
        Assert.InRange(flooded, 1, 100 + (int)Math.Ceiling(seconds) + 1);
        using ChatSubscription feed = target.Subscribe();
        await target.SubmitAsync("/stats", Ct);
        ChatEvent next;
        do
            next = await feed.Events.ReadAsync(Ct);
        while (next is not StatsEvent);
        StatsEvent stats = (StatsEvent)next;
        // What reached the chat and was not stored was counted (a few the router skipped while the target's queue was full never arrived).
        long refused = stats.Stats.Refused.Where(r => r.Key.StartsWith("store.", StringComparison.Ordinal)).Sum(r => r.Value);
        Assert.InRange(refused, 1, FloodMessages - flooded);
        Assert.InRange(log.Bytes - logBefore, 0, 1024 * 1024);
    }

    /// <summary>Counts the characters logged at Information and above (what the app's log file keeps).</summary>
    private sealed class CountingLoggerFactory : ILoggerFactory, ILogger
    {
        private long _bytes;

        public long Bytes => Interlocked.Read(ref _bytes);

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                Interlocked.Add(ref _bytes, formatter(state, exception).Length + (exception?.ToString().Length ?? 0) + 64);
        }
    }
}
