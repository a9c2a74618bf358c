using System.Diagnostics;
using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Ports;
using Echo.Core.Rooms;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols;
using Echo.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Bench;

/// <summary>
/// History figures: a node that missed 10,000 messages catches up from a peer over
/// /echo/history/1.0.0 (time and bytes on the wire), and page loads from a store of 100,000
/// messages (latency of the newest page and of pages further back). Prints a Markdown report.
/// </summary>
internal static class HistoryBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        bool quick = args.Contains("--quick");
        int missed = quick ? 2_000 : 10_000;
        int stored = quick ? 20_000 : 100_000;
        string root = Directory.CreateTempSubdirectory("echo-bench-history-").FullName;
        try
        {
            Console.WriteLine($"# History run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores{(quick ? " (quick)" : "")}");
            Console.WriteLine();
            await CatchUpAsync(root, missed);
            await PageLoadsAsync(root, stored);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(root, recursive: true);
        }
        return 0;
    }

    private static async Task CatchUpAsync(string root, int count)
    {
        await using Libp2pChatNetwork alice = await StartAsync(null);
        await using SqliteMessageStore bobStore = SqliteMessageStore.Open(Path.Combine(root, "bob.db"));
        await using SqliteMessageStore carolStore = SqliteMessageStore.Open(Path.Combine(root, "carol.db"));
        await using Libp2pChatNetwork bob = await StartAsync(bobStore);
        await using Libp2pChatNetwork carol = await StartAsync(carolStore);

        // What bob heard while carol was away: alice's signed messages, ~60 characters of text each.
        List<ChatMessage> written = new(count);
        for (int i = 0; i < count; i++)
        {
            ChatMessage published = await alice.PublishAsync("lobby", "alice", $"message {i:D6} about nothing much, the usual chat line", default);
            written.Add(published with { Origin = MessageOrigin.Room });
        }
        for (int i = 0; i < count; i += 1000)
            await bobStore.AddAsync(written.GetRange(i, Math.Min(1000, count - i)), default);

        Stopwatch clock = Stopwatch.StartNew();
        await carol.ConnectAsync(bob.ListenAddresses[0], default);
        int arrived = 0;
        using CancellationTokenSource limit = new(TimeSpan.FromMinutes(5));
        // The chat's side: each fetched page stored by Core's writer, as ChatManager does.
        using RoomChat writer = new(carol, carolStore, new ChatOptions { Nick = "carol" }, NullLogger.Instance);
        while (arrived < count)
        {
            if (await carol.Events.ReadAsync(limit.Token) is HistoryPageFetched page)
                arrived += (await writer.AcceptPageAsync(page, limit.Token)).Count;
        }
        clock.Stop();
        long received = carol.History!.BytesReceived;
        long sent = bob.History!.BytesSent;
        long payload = written.Sum(m => (long)m.Envelope!.Size);
        Console.WriteLine($"## Catch-up of {count:N0} missed messages from one peer (loopback, both stores on disk)");
        Console.WriteLine();
        Console.WriteLine("| connect to all stored | messages/s | answer bytes | per message | signed envelopes alone |");
        Console.WriteLine("|---|---|---|---|---|");
        Console.WriteLine($"| {clock.Elapsed.TotalMilliseconds:F0} ms | {count / clock.Elapsed.TotalSeconds:F0} | {received:N0} | " +
                          $"{(double)received / count:F0} B | {payload:N0} ({(double)payload / count:F0} B) |");
        Console.WriteLine();
        if (sent != received)
            Console.WriteLine($"(bob counted {sent:N0} bytes sent)");
    }

    private static async Task PageLoadsAsync(string root, int count)
    {
        await using SqliteMessageStore store = SqliteMessageStore.Open(Path.Combine(root, "big.db"));
        Random random = new(1);
        byte[] signature = new byte[64];
        random.NextBytes(signature);
        long start = DateTimeOffset.UtcNow.AddDays(-30).ToUnixTimeMilliseconds();
        Stopwatch fill = Stopwatch.StartNew();
        for (int i = 0; i < count; i += 1000)
        {
            List<ChatMessage> batch = [.. Enumerable.Range(i, Math.Min(1000, count - i)).Select(n => new ChatMessage(
                $"12D3KooWBenchAuthor{n % 7}:{n:x16}", n % 10 == 0 ? "dev" : "lobby", $"12D3KooWBenchAuthor{n % 7}", "bench",
                $"message {n:D6} about nothing much, the usual chat line", DateTimeOffset.FromUnixTimeMilliseconds(start + n * 20L),
                MessageOrigin.Room)
            {
                Envelope = new SignedEnvelope(new byte[38], new byte[8], new byte[120], signature, []),
            })];
            await store.AddAsync(batch, default);
        }
        fill.Stop();
        const int page = 100;
        const int runs = 500;
        List<double> latest = [], back = [];
        IReadOnlyList<ChatMessage> all = await store.AfterAsync("lobby", HistoryCursor.Start, int.MaxValue, default);
        for (int i = 0; i < runs; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            await store.LatestAsync("lobby", page, default);
            latest.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            HistoryCursor before = HistoryCursor.Of(all[random.Next(page, all.Count)]);
            t0 = Stopwatch.GetTimestamp();
            IReadOnlyList<ChatMessage> older = await store.BeforeAsync("lobby", before, page, default);
            back.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            if (older.Count != page)
                throw new InvalidOperationException($"a page of {older.Count}");
        }
        long bytes = new FileInfo(store.Path).Length + (File.Exists(store.Path + "-wal") ? new FileInfo(store.Path + "-wal").Length : 0);
        Console.WriteLine($"## Page loads, {page} messages, from a store of {count:N0} ({bytes / 1024 / 1024} MiB, filled in {fill.Elapsed.TotalSeconds:F1} s in 1,000-message transactions), {runs} runs, ms");
        Console.WriteLine();
        Console.WriteLine("| | p50 | p99 | max |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine($"| newest page (a room opened) | {Percentile(latest, 50):F2} | {Percentile(latest, 99):F2} | {latest.Max():F2} |");
        Console.WriteLine($"| page before a random message (scrolling back) | {Percentile(back, 50):F2} | {Percentile(back, 99):F2} | {back.Max():F2} |");
    }

    private static async Task<Libp2pChatNetwork> StartAsync(IMessageStore? store)
    {
        Libp2pHost host = new(KeyPair.Generate(), new HostOptions { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] },
            NullLoggerFactory.Instance);
        Libp2pChatNetwork network = new(host, new ChatNetworkOptions(), NullLoggerFactory.Instance, store: store);
        await network.StartAsync(default);
        await network.JoinRoomAsync("lobby", default);
        return network;
    }

    private static double Percentile(List<double> values, double p)
    {
        List<double> sorted = [.. values.Order()];
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }
}
