using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.SystemTests;

/// <summary>
/// Attacks on what a node stores and serves, from another host (docs/LIMITS.md, L-store-quota,
/// L-history-serve): three network namespaces on one LAN, a real echo-chat target at 10.77.0.1, the
/// attacker in this process reaching it from 10.77.0.2 (<see cref="NamespaceForwarder"/>), an honest
/// echo-chat at 10.77.0.3 that must connect and exchange a room message both ways within 5 s while
/// the attack goes on.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class StorageFloodNamespaceTests
{
    private const int FloodMessages = 100_000;
    private const int AuthorBurst = 100;                         // IngestQuotaOptions: an author's burst, then 1 a second
    private const long AddressBytesPerMinute = 32L << 20;        // HistorySyncOptions.AddressBytesPerMinute
    private const int Identities = 50;
    private const int ConnectionsPerAddress = 8;                 // ResourceLimits.MaxConnectionsPerAddress
    private const string HistoryProtocol = "/echo/history/1.0.0";
    private static readonly TimeSpan Served = TimeSpan.FromSeconds(5);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Report(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    [Fact(Timeout = 600_000)]
    public async Task One_author_sending_100000_room_messages_is_stored_within_its_quota_the_honest_peers_all_are_and_the_log_stays_small()
    {
        await using NetworkNamespaceLan lan = await NetworkNamespaceLan.CreateAsync(3, Ct);
        string logDirectory = Directory.CreateTempSubdirectory("echo-flood-log-").FullName;
        string logFile = Path.Combine(logDirectory, "target.log");
        try
        {
            await using EchoChatProcess target = await EchoChatProcess.StartAsync("target", ["--log-file", logFile], Ct,
                networkNamespace: lan.Hosts[0], listen: $"/ip4/{NetworkNamespaceLan.Address(0)}/tcp/0");
            await using EchoChatProcess honest = await EchoChatProcess.StartAsync("honest", [], Ct, networkNamespace: lan.Hosts[2],
                listen: $"/ip4/{NetworkNamespaceLan.Address(2)}/tcp/0");
            await using NamespaceForwarder route = NamespaceForwarder.Start(lan.Hosts[1], EndPointOf(target));
            await using Libp2pChatNetwork flooder = new(new Libp2pHost(KeyPair.Generate(), new HostOptions(), NullLoggerFactory.Instance),
                new ChatNetworkOptions(), NullLoggerFactory.Instance);
            await flooder.StartAsync(Ct);
            await flooder.JoinRoomAsync("lobby", Ct);
            await flooder.ConnectAsync($"/ip4/127.0.0.1/tcp/{route.Port}/p2p/{target.PeerId}", Ct);
            Stopwatch clock = Stopwatch.StartNew();
            // The room forms right after connecting: probe until the target shows one of the flooder's lines.
            for (int probe = 0; ; probe++)
            {
                await flooder.PublishAsync("lobby", "flood", $"flood probe {probe}", Ct);
                try
                {
                    await target.NextAsync(e => e.GetProperty("type").GetString() == "message"
                                                && e.GetProperty("text").GetString()!.StartsWith("flood probe", StringComparison.Ordinal),
                        TimeSpan.FromMilliseconds(300), Ct);
                    break;
                }
                catch (TimeoutException) when (clock.Elapsed < TimeSpan.FromSeconds(30))
                {
                }
            }
            long logBefore = LogBytes(logFile, target);

            using CancellationTokenSource floodDone = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            long published = 0;
            Task flood = Task.Run(async () =>
            {
                try
                {
                    for (int i = 0; i < FloodMessages; i++)
                    {
                        await flooder.PublishAsync("lobby", "flood", $"flood {i}", Ct);
                        Interlocked.Increment(ref published);
                    }
                }
                finally
                {
                    await floodDone.CancelAsync();
                }
            }, Ct);
            // Once the flood runs, the honest peer connects and chats, then says a line a second while it lasts (at least 5).
            while (Interlocked.Read(ref published) < 1000 && !flood.IsCompleted)
                await Task.Delay(50, Ct);
            TimeSpan took = await HonestPeer.ConnectAndChatAsync(honest, target, Served, Ct);
            List<string> said = [];
            while (!floodDone.IsCancellationRequested || said.Count < 5)
            {
                string line = $"honest line {said.Count}";
                await honest.SendLineAsync(line);
                said.Add(line);
                await Task.WhenAny(Task.Delay(1000, Ct), flood);
                if (flood.IsCompleted && said.Count >= 5)
                    break;
            }
            await flood;
            await target.MessageAsync(said[^1], Ct);
            double seconds = clock.Elapsed.TotalSeconds;
            long logGrowth = LogBytes(logFile, target) - logBefore;
            (long refused, string counters) = await StoreRefusalsAsync(target);

            List<JsonElement> stored = await StoredAsync(target);
            HashSet<string> honestStored = [.. stored.Where(m => m.GetProperty("from").GetString() == honest.PeerId)
                .Select(m => m.GetProperty("text").GetString()!)];
            int flooded = stored.Count(m => m.GetProperty("from").GetString() == flooder.LocalPeerId);
            Report($"flooder published {FloodMessages:N0} in {seconds:0} s from 10.77.0.2: {flooded} stored, refused: {counters}; "
                   + $"honest peer served in {took.TotalSeconds:0.00} s, {honestStored.Count(said.Contains)} of its {said.Count} lines stored; "
                   + $"the target's log grew by {logGrowth} bytes");
            Assert.All(said, line => Assert.Contains(line, honestStored));
            // Its burst, then one a second however long the flood took: not 100,000.
            Assert.InRange(flooded, 1, AuthorBurst + (int)Math.Ceiling(seconds) + 1);
            Assert.InRange(refused, 1, FloodMessages);
            Assert.InRange(logGrowth, 0, 1024 * 1024 - 1);
        }
        finally
        {
            Directory.Delete(logDirectory, recursive: true);
        }
    }

    [Fact(Timeout = 300_000)]
    public async Task History_requests_from_50_fresh_identities_on_one_address_are_served_within_the_address_cap()
    {
        await using NetworkNamespaceLan lan = await NetworkNamespaceLan.CreateAsync(3, Ct);
        await using EchoChatProcess target = await EchoChatProcess.StartAsync("target", [], Ct, networkNamespace: lan.Hosts[0],
            listen: $"/ip4/{NetworkNamespaceLan.Address(0)}/tcp/0");
        await using EchoChatProcess honest = await EchoChatProcess.StartAsync("honest", [], Ct, networkNamespace: lan.Hosts[2],
            listen: $"/ip4/{NetworkNamespaceLan.Address(2)}/tcp/0");
        // About 2 MB of the target's own lines: every identity alone could take a 16 MiB share of them a minute.
        string text = new('x', 4000);
        for (int i = 0; i < 500; i++)
            await target.SendLineAsync($"{i} {text}");
        await target.MessageAsync($"499 {text}", Ct);
        await using NamespaceForwarder route = NamespaceForwarder.Start(lan.Hosts[1], EndPointOf(target));
        Multiaddr via = Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{route.Port}/p2p/{target.PeerId}");

        // The 50 identities take turns, 8 at a time (the per-address connection limit), each asking for
        // the whole room from the start again and again for 1.5 s, ignoring "retry later".
        int next = 0;
        long served = 0, pages = 0;
        Stopwatch clock = Stopwatch.StartNew();
        Task[] workers = [.. Enumerable.Range(0, ConnectionsPerAddress).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) <= Identities)
            {
                (long bytes, int withMessages) = await OneIdentityAsync(via, PeerId.Parse(target.PeerId), TimeSpan.FromSeconds(1.5));
                Interlocked.Add(ref served, bytes);
                Interlocked.Add(ref pages, withMessages);
            }
        }, Ct))];
        Task attack = Task.WhenAll(workers);
        TimeSpan took = await HonestPeer.ConnectAndChatAsync(honest, target, Served, Ct);
        bool honestDuringAttack = !attack.IsCompleted;
        await attack;
        double seconds = clock.Elapsed.TotalSeconds;
        (long refused, string counters) = await HistoryRefusalsAsync(target);

        // 50 shares of 16 MiB would be 800 MiB; the address gets one minute's worth and what refills while the attack lasts.
        long cap = AddressBytesPerMinute + (long)(AddressBytesPerMinute / 60.0 * seconds);
        Report($"{Identities} identities from 10.77.0.2 in {seconds:0.0} s: {served / (1024.0 * 1024.0):0.0} MiB served in {pages} pages, "
               + $"cap {cap / (1024.0 * 1024.0):0.0} MiB; refused: {counters}; honest peer served in {took.TotalSeconds:0.00} s");
        Assert.True(honestDuringAttack, "the attack ended before the honest peer was served");
        Assert.InRange(served, AddressBytesPerMinute / 2, cap);
        Assert.True(refused > 0, $"the address cap refused nothing ({counters})");
    }

    /// <summary>
    /// A fresh identity dials (retrying while the target still counts an earlier one's connection), asks
    /// for history, and leaves; returns the bytes of the pages of history it got, and how many.
    /// </summary>
    private static async Task<(long Bytes, int Pages)> OneIdentityAsync(Multiaddr via, PeerId target, TimeSpan duration)
    {
        await using Libp2pHost host = new(KeyPair.Generate(), new HostOptions(), NullLoggerFactory.Instance);
        await host.StartAsync(Ct);
        Stopwatch dialing = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await host.DialAsync(via, Ct);
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException && dialing.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(50, Ct);
            }
        }
        long bytes = 0;
        int pages = 0;
        try
        {
            P2PStream stream = await host.OpenStreamAsync(target, HistoryProtocol, Ct);
            byte[] request = HistoryRequestFromTheStart("lobby");
            Stopwatch clock = Stopwatch.StartNew();
            while (clock.Elapsed < duration)
            {
                await stream.Output.WriteLengthPrefixedAsync(request, Ct);
                byte[]? frame = await stream.Input.ReadLengthPrefixedAsync(1024 * 1024, HistoryProtocol, Ct);
                if (frame is null)
                    break;
                if (frame.Length > 0 && frame[0] == 0x0A)   // field 1, messages: a page of history (else "retry later")
                {
                    bytes += frame.Length;
                    pages++;
                }
            }
        }
        catch (Exception e) when (e is IOException or PeerNotConnectedException or ProtocolViolationException)
        {
            // The target reset the stream or dropped the connection: what it served is counted.
        }
        return (bytes, pages);
    }

    /// <summary>A HistoryRequest (History.proto) for every message of <paramref name="room"/>: room = 1, after_ts = 2 (the smallest), limit = 4 (500).</summary>
    private static byte[] HistoryRequestFromTheStart(string room)
    {
        List<byte> bytes = [0x0A, (byte)room.Length, .. Encoding.UTF8.GetBytes(room), 0x10];
        for (ulong value = unchecked((ulong)long.MinValue); ; value >>= 7)
        {
            if (value < 0x80)
            {
                bytes.Add((byte)value);
                break;
            }
            bytes.Add((byte)(value | 0x80));
        }
        bytes.AddRange([0x20, 0xF4, 0x03]);   // 500
        return [.. bytes];
    }

    private static async Task<(long Refused, string Counters)> StoreRefusalsAsync(EchoChatProcess target) =>
        await RefusalsAsync(target, "store.");

    private static async Task<(long Refused, string Counters)> HistoryRefusalsAsync(EchoChatProcess target) =>
        await RefusalsAsync(target, "history.address-");

    private static async Task<(long Refused, string Counters)> RefusalsAsync(EchoChatProcess target, string prefix)
    {
        await target.SendLineAsync("/stats");
        JsonElement stats = await target.NextAsync(e => e.GetProperty("type").GetString() == "stats", TimeSpan.FromSeconds(10), Ct);
        List<JsonProperty> counters = [.. stats.GetProperty("refused").EnumerateObject()
            .Where(p => p.Name.StartsWith("store.", StringComparison.Ordinal) || p.Name.StartsWith("history.", StringComparison.Ordinal))];
        return (counters.Where(p => p.Name.StartsWith(prefix, StringComparison.Ordinal)).Sum(p => p.Value.GetInt64()),
            string.Join(", ", counters.Select(p => $"{p.Name} {p.Value.GetInt64()}")));
    }

    /// <summary>The target's stored lobby messages, read with <c>echo-chat history --json</c> while it runs.</summary>
    private static async Task<List<JsonElement>> StoredAsync(EchoChatProcess target)
    {
        (int exit, string output, string error) = await EchoChatProcess.RunWithOutputAsync(
            ["history", "--room", "lobby", "--json", "--name", "target", "--data-dir", target.DataDirectory], Ct);
        Assert.True(exit == 0, $"echo-chat history failed ({exit}): {error}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone())];
    }

    /// <summary>What the target logged: its log file (Information and above) and its stderr (warnings).</summary>
    private static long LogBytes(string logFile, EchoChatProcess target) =>
        (File.Exists(logFile) ? new FileInfo(logFile).Length : 0) + Encoding.UTF8.GetByteCount(target.StandardError);

    private static IPEndPoint EndPointOf(EchoChatProcess node)
    {
        Assert.True(Multiaddr.Parse(node.Address).TryGetTcpEndPoint(out IPEndPoint? endPoint));
        return endPoint!;
    }
}
