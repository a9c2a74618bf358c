using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Echo.Core;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Perf;
using Echo.Protocols;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Bench;

/// <summary>
/// File transfer throughput against raw stream throughput, in one process over one loopback
/// connection: /perf/1.0.0 downloads of N bytes, then /get of an N-byte file (read from disk,
/// sent over /echo/file/1.0.0, hashed and written to disk by the receiver, verified and moved).
/// </summary>
internal static class FilesBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        long size = (args.SkipWhile(a => a != "--size").Skip(1).Select(long.Parse).FirstOrDefault(512)) << 20;
        int runs = args.SkipWhile(a => a != "--runs").Skip(1).Select(int.Parse).FirstOrDefault(3);
        // Memory-backed by default (/dev/shm when there is one): the figure is the transfer path, not
        // the disk; --dir puts both files on a disk to see that instead.
        string parent = args.SkipWhile(a => a != "--dir").Skip(1).FirstOrDefault()
                        ?? (Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath());
        DirectoryInfo temp = Directory.CreateDirectory(Path.Combine(parent, "echo-files-bench-" + Environment.ProcessId));
        try
        {
            string source = Path.Combine(temp.FullName, "source.bin");
            WriteFile(source, size);
            await using Node sender = await Node.StartAsync("sender", Path.Combine(temp.FullName, "sender"));
            await using Node receiver = await Node.StartAsync("receiver", Path.Combine(temp.FullName, "receiver"));
            await receiver.Chat.ConnectAsync(sender.Chat.ListenAddresses[0], CancellationToken.None);

            List<double> perf = [], files = [];
            for (int run = 0; run <= runs; run++)   // run 0 warms up
            {
                P2PStream stream = await receiver.Host.OpenStreamAsync(sender.Host.PeerId, PerfProtocol.ProtocolId, CancellationToken.None);
                PerfResult result = await PerfProtocol.RunAsync(stream, 0, (ulong)size, TimeProvider.System, CancellationToken.None);
                if (run > 0)
                    perf.Add(size / result.Download.TotalSeconds / 1e6);

                await sender.Chat.OfferFileAsync(source, receiver.Chat.LocalPeerId, CancellationToken.None);
                FileOfferEvent offer = await receiver.NextAsync<FileOfferEvent>(_ => true);
                long start = Stopwatch.GetTimestamp();
                receiver.Chat.GetFile(offer.Offer.Id);
                ChatEvent end = await receiver.NextAsync<ChatEvent>(e => e is FileDoneEvent or FileErrorEvent);
                TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
                if (end is not FileDoneEvent done)
                    throw new InvalidOperationException(((FileErrorEvent)end).Message);
                File.Delete(done.Path);
                if (run > 0)
                    files.Add(size / elapsed.TotalSeconds / 1e6);
            }
            double perfMedian = Median(perf), filesMedian = Median(files);
            Console.WriteLine($"## Files: {size >> 20} MiB over loopback, files in {parent}, median of {runs} (after one warm-up)");
            Console.WriteLine();
            Console.WriteLine("| what | MB/s | runs |");
            Console.WriteLine("|---|---|---|");
            Console.WriteLine($"| /perf/1.0.0 download (raw stream) | {perfMedian:0} | {string.Join(", ", perf.Select(v => v.ToString("0", CultureInfo.InvariantCulture)))} |");
            Console.WriteLine($"| /get (disk → /echo/file/1.0.0 → SHA-256 → disk) | {filesMedian:0} | {string.Join(", ", files.Select(v => v.ToString("0", CultureInfo.InvariantCulture)))} |");
            Console.WriteLine($"| files / perf | {filesMedian / perfMedian:P0} | |");
            return 0;
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    private static double Median(List<double> values)
    {
        List<double> sorted = [.. values.Order()];
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static void WriteFile(string path, long size)
    {
        using FileStream file = new(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
        ulong[] block = new ulong[1 << 17];
        ulong state = 0x9E3779B97F4A7C15;
        for (long written = 0; written < size; written += block.Length * sizeof(ulong))
        {
            for (int i = 0; i < block.Length; i++)
            {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                block[i] = state;
            }
            file.Write(MemoryMarshal.AsBytes(block.AsSpan())[..(int)Math.Min(block.Length * sizeof(ulong), size - written)]);
        }
    }

    private sealed class Node : IAsyncDisposable
    {
        private Node(KeyPair key, Libp2pHost host, ChatManager chat)
        {
            Key = key;
            Host = host;
            Chat = chat;
            Events = chat.Subscribe();
        }

        public KeyPair Key { get; }

        public Libp2pHost Host { get; }

        public ChatManager Chat { get; }

        public ChatSubscription Events { get; }

        public static async Task<Node> StartAsync(string nick, string directory)
        {
            KeyPair key = KeyPair.Generate();
            Libp2pHost host = new(key, new HostOptions { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")], EnablePerf = true },
                NullLoggerFactory.Instance);
            Libp2pChatNetwork network = new(host, new ChatNetworkOptions(), NullLoggerFactory.Instance);
            ChatManager chat = new(network, new ChatOptions
            {
                Nick = nick,
                Files = new FileSharingOptions { DownloadsDirectory = Path.Combine(directory, "downloads"), StateDirectory = directory },
            }, NullLogger<ChatManager>.Instance);
            Node node = new(key, host, chat);
            await chat.StartAsync(CancellationToken.None);
            return node;
        }

        public async Task<T> NextAsync<T>(Func<T, bool> match) where T : ChatEvent
        {
            using CancellationTokenSource limit = new(TimeSpan.FromMinutes(5));
            while (true)
            {
                if (await Events.Events.ReadAsync(limit.Token) is T wanted && match(wanted))
                    return wanted;
            }
        }

        public async ValueTask DisposeAsync()
        {
            Events.Dispose();
            await Chat.DisposeAsync();
            Key.Dispose();
        }
    }
}
