using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Echo.Net.Host;
using Echo.Net.Pubsub;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Bench;

/// <summary>
/// The gossipsub side of the C# bench peer (GOSSIPSUB=1), the same commands as the js interop peer:
/// subscribe, unsubscribe, publish, meshPeers, and for the benchmark benchReset, benchPublish,
/// benchCount, benchReceived. Outside a benchmark every received message is an event line
/// <c>pubsub:message</c>; after benchReset messages are only recorded (see <see cref="BenchPayload"/>).
/// benchCount also reports the process's CPU time and, unlike js, what our queues dropped.
/// </summary>
/// <remarks>
/// The router uses js's message id (encoded key || seqno) so that IHAVE/IWANT ids match in mixed meshes.
/// </remarks>
internal sealed class PubsubPeer : IAsyncDisposable
{
    private static readonly HashSet<string> s_commands =
        ["subscribe", "unsubscribe", "publish", "meshPeers", "benchReset", "benchPublish", "benchCount", "benchReceived"];

    private readonly PubsubRouter _router;
    private readonly Action<JsonObject> _emit;
    private readonly Dictionary<string, (PubsubSubscription Subscription, Task Reader)> _subscriptions = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly List<(uint Tag, uint Seq, long LatencyNs)> _received = [];
    private bool _recording;
    private long _lastNs;

    private PubsubPeer(PubsubRouter router, Action<JsonObject> emit)
    {
        _router = router;
        _emit = emit;
    }

    public static async Task<PubsubPeer> StartAsync(Libp2pHost host, Action<JsonObject> emit)
    {
        PubsubRouter router = new(host, new PubsubOptions { MessageIdFunction = PubsubMessageIds.KeyAndSeqno }, NullLoggerFactory.Instance);
        await router.StartAsync(CancellationToken.None);
        return new PubsubPeer(router, emit);
    }

    public static bool Handles(string cmd) => s_commands.Contains(cmd);

    public async Task<JsonObject> ExecuteAsync(string cmd, JsonObject command)
    {
        using CancellationTokenSource timeout = new(TimeSpan.FromMinutes(5));
        string topic = command["topic"]?.GetValue<string>() ?? "";
        switch (cmd)
        {
            case "subscribe":
                if (!_subscriptions.ContainsKey(topic))
                {
                    PubsubSubscription subscription = _router.Subscribe(topic);
                    _subscriptions[topic] = (subscription, Task.Run(() => ReadAsync(subscription)));
                }
                return [];
            case "unsubscribe":
                if (_subscriptions.Remove(topic, out (PubsubSubscription Subscription, Task Reader) entry))
                {
                    await entry.Subscription.DisposeAsync();
                    await entry.Reader;
                }
                return [];
            case "publish":
            {
                byte[] data = command["dataBase64"] is { } b64
                    ? Convert.FromBase64String(b64.GetValue<string>())
                    : System.Text.Encoding.UTF8.GetBytes(command["data"]?.GetValue<string>() ?? "");
                await _router.PublishAsync(topic, data, timeout.Token);
                return new JsonObject { ["recipients"] = new JsonArray([.. _router.TopicPeers(topic).Select(p => (JsonNode)p.ToString())]) };
            }
            case "meshPeers":
                return new JsonObject { ["peers"] = new JsonArray([.. _router.MeshPeers(topic).Select(p => (JsonNode)p.ToString())]) };
            case "benchReset":
                lock (_gate)
                {
                    _recording = true;
                    _received.Clear();
                    _lastNs = 0;
                }
                return [];
            case "benchPublish":
            {
                int count = command["count"]!.GetValue<int>();
                double rate = command["rate"]?.GetValue<double>() ?? 0;
                byte[] payload = new byte[Math.Max(BenchPayload.HeaderLength, command["size"]?.GetValue<int>() ?? 100)];
                uint tag = command["tag"]?.GetValue<uint>() ?? 0;
                uint firstSeq = command["firstSeq"]?.GetValue<uint>() ?? 0;
                long start = BenchPayload.NowNs();
                for (int i = 0; i < count; i++)
                {
                    if (rate > 0)
                    {
                        long wait = start + (long)(i * 1e9 / rate) - BenchPayload.NowNs();
                        if (wait > 0)
                            await Task.Delay(TimeSpan.FromTicks(wait / 100), timeout.Token);
                    }
                    BenchPayload.Write(payload, BenchPayload.NowNs(), tag, firstSeq + (uint)i);
                    await _router.PublishAsync(topic, payload, timeout.Token);
                }
                return new JsonObject { ["published"] = count, ["startNs"] = Ns(start), ["endNs"] = Ns(BenchPayload.NowNs()) };
            }
            case "benchCount":
            {
                // Losses on our side: RPCs a full queue dropped (a lagging subscription drops nothing: it slows the senders).
                long queueDrops = _router.Peers.Sum(p => _router.GetPeer(p)?.RpcsDropped ?? 0);
                double cpuMs;
                using (Process self = Process.GetCurrentProcess())
                    cpuMs = self.TotalProcessorTime.TotalMilliseconds;
                lock (_gate)
                {
                    return new JsonObject
                    {
                        ["count"] = _received.Count, ["lastNs"] = Ns(_lastNs), ["cpuMs"] = cpuMs,
                        ["queueDrops"] = queueDrops,
                    };
                }
            }
            case "benchReceived":
                lock (_gate)
                {
                    return new JsonObject
                    {
                        ["count"] = _received.Count,
                        ["lastNs"] = Ns(_lastNs),
                        ["tags"] = new JsonArray([.. _received.Select(r => (JsonNode)r.Tag)]),
                        ["seqs"] = new JsonArray([.. _received.Select(r => (JsonNode)r.Seq)]),
                        ["latencyUs"] = new JsonArray([.. _received.Select(r => (JsonNode)Math.Round(r.LatencyNs / 1000.0, 1))]),
                    };
                }
            default:
                throw new ArgumentException($"unknown command {cmd}");
        }
    }

    private static string Ns(long ns) => ns.ToString(CultureInfo.InvariantCulture);

    private async Task ReadAsync(PubsubSubscription subscription)
    {
        await foreach (PubsubMessage message in subscription.Messages.ReadAllAsync())
        {
            long now = BenchPayload.NowNs();
            lock (_gate)
            {
                if (_recording)
                {
                    if (BenchPayload.TryRead(message.Data.Span, out long sentNs, out uint tag, out uint seq))
                    {
                        _received.Add((tag, seq, now - sentNs));
                        _lastNs = now;
                    }
                    continue;
                }
            }
            _emit(new JsonObject
            {
                ["type"] = "event",
                ["event"] = "pubsub:message",
                ["topic"] = message.Topic,
                ["from"] = message.From.ToString(),
                ["dataBase64"] = Convert.ToBase64String(message.Data.Span),
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach ((PubsubSubscription subscription, Task reader) in _subscriptions.Values)
        {
            await subscription.DisposeAsync();
            await reader;
        }
        await _router.DisposeAsync();
    }
}

/// <summary>
/// The first 16 bytes of a benchmark message: the publisher's CLOCK_MONOTONIC in ns (int64 LE), a
/// publisher tag and a sequence number (uint32 LE each). Every process on the machine reads the same
/// clock (.NET's Stopwatch and node's process.hrtime.bigint() both use CLOCK_MONOTONIC on Linux), so
/// the receiver's clock minus the publisher's is the publish→deliver latency.
/// </summary>
internal static class BenchPayload
{
    public const int HeaderLength = 16;

    public static long NowNs()
    {
        long ticks = Stopwatch.GetTimestamp();
        return Stopwatch.Frequency == 1_000_000_000 ? ticks : (long)(ticks * (1e9 / Stopwatch.Frequency));
    }

    public static void Write(Span<byte> payload, long sentNs, uint tag, uint seq)
    {
        BinaryPrimitives.WriteInt64LittleEndian(payload, sentNs);
        BinaryPrimitives.WriteUInt32LittleEndian(payload[8..], tag);
        BinaryPrimitives.WriteUInt32LittleEndian(payload[12..], seq);
    }

    public static bool TryRead(ReadOnlySpan<byte> payload, out long sentNs, out uint tag, out uint seq)
    {
        sentNs = 0;
        tag = seq = 0;
        if (payload.Length < HeaderLength)
            return false;
        sentNs = BinaryPrimitives.ReadInt64LittleEndian(payload);
        tag = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]);
        seq = BinaryPrimitives.ReadUInt32LittleEndian(payload[12..]);
        return true;
    }
}
