using System.Diagnostics;
using Echo.Core;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols;
using Echo.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Bench;

/// <summary>
/// Acknowledged direct messages per second between two nodes on 127.0.0.1. The receiver is the
/// whole chat (<see cref="ChatManager"/>) over an SQLite store on disk: every message is stored
/// (WAL, synchronous=FULL) before it is acknowledged. The sender keeps a number of messages in
/// flight, as many peers writing at once or a pipelined sender would; the receiver stores the
/// arrivals that wait together in one transaction. Also: one message at a time through the
/// sender's own chat and outbox (stored on its disk too), the path of a single conversation.
/// Prints a Markdown report.
/// </summary>
internal static class DirectBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        bool quick = args.Contains("--quick");
        int at = Array.IndexOf(args, "--dir");
        string parent = at >= 0 && at + 1 < args.Length ? args[at + 1] : Path.GetTempPath();
        string root = Directory.CreateDirectory(Path.Combine(parent, "echo-bench-dm-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        try
        {
            Console.WriteLine($"# Direct messages run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores" +
                              $"{(quick ? " (quick)" : "")}, stores in {parent}");
            Console.WriteLine();
            Console.WriteLine("| sender | in flight | messages | time | acknowledged/s | stored at the receiver |");
            Console.WriteLine("|---|---|---|---|---|---|");
            // At most 64 in flight: every open yamux stream reserves its 256 KiB initial window from the
            // connection's 32 MiB receive budget, so the 128th stream at once is refused. Real senders
            // keep one in flight per peer.
            foreach (int inFlight in (int[])[1, 16, 64])
                await ConcurrentAsync(root, quick ? 2_000 : 10_000, inFlight);
            await ThroughOutboxAsync(root, quick ? 100 : 300);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(root, recursive: true);
        }
        return 0;
    }

    private static async Task ConcurrentAsync(string root, int count, int inFlight)
    {
        if (inFlight == 1)
            count = Math.Min(count, 500);   // one at a time is bound by the disk's sync latency
        string directory = Directory.CreateDirectory(Path.Combine(root, $"concurrent-{inFlight}")).FullName;
        await using SqliteMessageStore store = SqliteMessageStore.Open(Path.Combine(directory, SqliteMessageStore.FileName));
        await using ChatManager receiver = new(Network(), new ChatOptions { Nick = "receiver" }, NullLogger<ChatManager>.Instance,
            store, store);
        await receiver.StartAsync(default);
        await using Libp2pChatNetwork sender = Network();
        await sender.StartAsync(default);
        string peer = await sender.ConnectAsync(receiver.ListenAddresses[0], default);

        await SendAsync(sender, peer, Math.Min(200, count), inFlight);   // warm-up
        Stopwatch clock = Stopwatch.StartNew();
        await SendAsync(sender, peer, count, inFlight);
        clock.Stop();
        int stored = (await store.ConversationAsync(sender.LocalPeerId, int.MaxValue, default)).Count;
        Console.WriteLine($"| network, no outbox | {inFlight} | {count:N0} | {clock.Elapsed.TotalMilliseconds:N0} ms | " +
                          $"{count / clock.Elapsed.TotalSeconds:N0} | {stored:N0} (with {Math.Min(200, count)} warm-up) |");
    }

    /// <summary>Sends <paramref name="count"/> messages, <paramref name="inFlight"/> at a time; each returns once acknowledged.</summary>
    private static async Task SendAsync(Libp2pChatNetwork sender, string peer, int count, int inFlight)
    {
        int next = -1;
        await Task.WhenAll(Enumerable.Range(0, inFlight).Select(async _ =>
        {
            await Task.Yield();
            while (Interlocked.Increment(ref next) < count)
            {
                await sender.SendDirectAsync(peer, new DirectEnvelope(DirectIds.New(), "sender", DateTimeOffset.UtcNow,
                    "a direct message of about sixty characters, like a chat line", null), default);
            }
        }));
    }

    private static async Task ThroughOutboxAsync(string root, int count)
    {
        string directory = Directory.CreateDirectory(Path.Combine(root, "outbox")).FullName;
        await using SqliteMessageStore receiverStore = SqliteMessageStore.Open(Path.Combine(directory, "receiver.db"));
        await using SqliteMessageStore senderStore = SqliteMessageStore.Open(Path.Combine(directory, "sender.db"));
        await using ChatManager receiver = new(Network(), new ChatOptions { Nick = "receiver" }, NullLogger<ChatManager>.Instance,
            receiverStore, receiverStore);
        await using ChatManager sender = new(Network(), new ChatOptions { Nick = "sender" }, NullLogger<ChatManager>.Instance,
            senderStore, senderStore);
        ChatSubscription events = sender.Subscribe();
        await receiver.StartAsync(default);
        await sender.StartAsync(default);
        await sender.ConnectAsync(receiver.ListenAddresses[0], default);
        while (await events.Events.ReadAsync() is not PeerConnectedEvent)
        {
        }

        Stopwatch clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
            await sender.SendDirectAsync(receiver.LocalPeerId, $"message {i}", default);
        int delivered = 0;
        while (delivered < count)
        {
            if (await events.Events.ReadAsync() is DirectDeliveredEvent)
                delivered++;
        }
        clock.Stop();
        int stored = (await receiverStore.ConversationAsync(sender.LocalPeerId, int.MaxValue, default)).Count;
        Console.WriteLine($"| chat with outbox (/msg) | 1 | {count:N0} | {clock.Elapsed.TotalMilliseconds:N0} ms | " +
                          $"{count / clock.Elapsed.TotalSeconds:N0} | {stored:N0} |");
    }

    private static Libp2pChatNetwork Network() =>
        new(new Libp2pHost(KeyPair.Generate(), new HostOptions { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] },
            NullLoggerFactory.Instance), new ChatNetworkOptions(), NullLoggerFactory.Instance);
}
