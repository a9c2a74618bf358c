using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Perf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Bench;

/// <summary>
/// A C# node driven like the js interop peer: one JSON command per stdin line, one JSON reply per
/// stdout line, first line <c>{"type":"ready","peerId":…,"addrs":[…]}</c>. It serves perf and
/// ping. Commands: dial, ping, perf, dialBench, spawnDialers, closeDialers, stats, stop; with
/// GOSSIPSUB=1 also the pubsub ones of <see cref="PubsubPeer"/>.
/// </summary>
internal static class PeerMode
{
    public static async Task<int> RunAsync()
    {
        NativeHeap.ReturnFreedBlocksToTheSystem();   // as echo-chat does at start
        string listen = Environment.GetEnvironmentVariable("LISTEN") ?? "/ip4/127.0.0.1/tcp/0";
        using KeyPair key = KeyPair.Generate();
        HostOptions options = new() { ListenAddresses = [Multiaddr.Parse(listen)], EnablePerf = true, MaxInboundConnections = 1024 };
        await using Libp2pHost host = new(key, options, NullLoggerFactory.Instance);
        await host.StartAsync(CancellationToken.None);
        await using PubsubPeer? pubsub = Environment.GetEnvironmentVariable("GOSSIPSUB") == "1" ? await PubsubPeer.StartAsync(host, Write) : null;
        List<Libp2pHost> dialers = [];
        Write(new JsonObject
        {
            ["type"] = "ready",
            ["peerId"] = host.PeerId.ToString(),
            ["addrs"] = new JsonArray([.. host.ListenAddresses.Select(a => (JsonNode)a.WithPeerId(host.PeerId).ToString())]),
        });
        while (await Console.In.ReadLineAsync() is { } line)
        {
            if (line.Length == 0)
                continue;
            JsonObject command = JsonNode.Parse(line)!.AsObject();
            JsonNode? id = command["id"]?.DeepClone();
            JsonObject reply;
            try
            {
                string cmd = command["cmd"]?.GetValue<string>() ?? "";
                reply = pubsub is not null && PubsubPeer.Handles(cmd)
                    ? await pubsub.ExecuteAsync(cmd, command)
                    : await ExecuteAsync(host, dialers, command);
                reply["ok"] = true;
            }
            catch (Exception e)
            {
                reply = new JsonObject { ["ok"] = false, ["error"] = e.Message };
            }
            reply["id"] = id;
            Write(reply);
            if (command["cmd"]?.GetValue<string>() == "stop")
                break;
        }
        await Task.WhenAll(dialers.Select(d => d.DisposeAsync().AsTask()));
        return 0;
    }

    private static async Task<JsonObject> ExecuteAsync(Libp2pHost host, List<Libp2pHost> dialers, JsonObject command)
    {
        using CancellationTokenSource timeout = new(TimeSpan.FromMinutes(5));
        CancellationToken ct = timeout.Token;
        switch (command["cmd"]?.GetValue<string>())
        {
            case "dial":
            {
                Connection c = await host.DialAsync(Multiaddr.Parse(command["addr"]!.GetValue<string>()), ct);
                return new JsonObject { ["peerId"] = c.RemotePeer.ToString(), ["remoteAddr"] = c.RemoteAddress.ToString() };
            }
            case "ping":
            {
                Connection c = await host.DialAsync(Multiaddr.Parse(command["addr"]!.GetValue<string>()), ct);
                return new JsonObject { ["rttMs"] = (await host.PingAsync(c.RemotePeer, ct)).TotalMilliseconds };
            }
            case "perf":
            {
                Connection c = await host.DialAsync(Multiaddr.Parse(command["addr"]!.GetValue<string>()), ct);
                P2PStream stream = await c.OpenStreamAsync(PerfProtocol.ProtocolId, ct);
                PerfResult result = await PerfProtocol.RunAsync(stream, command["uploadBytes"]!.GetValue<ulong>(),
                    command["downloadBytes"]!.GetValue<ulong>(), TimeProvider.System, ct);
                return new JsonObject
                {
                    ["uploadMs"] = result.Upload.TotalMilliseconds,
                    ["downloadMs"] = result.Download.TotalMilliseconds,
                    ["totalMs"] = result.Total.TotalMilliseconds,
                };
            }
            case "dialBench":
            {
                Multiaddr target = Multiaddr.Parse(command["addr"]!.GetValue<string>());
                int count = command["count"]!.GetValue<int>();
                JsonArray ready = [], firstPing = [];
                for (int i = 0; i < count; i++)
                {
                    // A fresh node per dial: a brand-new TCP + Noise + yamux connection every time.
                    using KeyPair key = KeyPair.Generate();
                    await using Libp2pHost dialer = new(key, new HostOptions(), NullLoggerFactory.Instance);
                    await dialer.StartAsync(ct);
                    long start = Stopwatch.GetTimestamp();
                    Connection c = await dialer.DialAsync(target, ct);
                    ready.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    await dialer.PingAsync(c.RemotePeer, ct);
                    firstPing.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
                return new JsonObject { ["ready"] = ready, ["firstPing"] = firstPing };
            }
            case "spawnDialers":
            {
                Multiaddr target = Multiaddr.Parse(command["addr"]!.GetValue<string>());
                int count = command["count"]!.GetValue<int>();
                for (int i = 0; i < count; i++)
                {
                    Libp2pHost dialer = new(KeyPair.Generate(), new HostOptions(), NullLoggerFactory.Instance);
                    await dialer.StartAsync(ct);
                    dialers.Add(dialer);
                    await dialer.DialAsync(target, ct);
                }
                return new JsonObject { ["connected"] = dialers.Count(d => d.Connections.Count > 0) };
            }
            case "closeDialers":
                await Task.WhenAll(dialers.Select(d => d.DisposeAsync().AsTask()));
                dialers.Clear();
                return [];
            case "stats":
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                using Process self = Process.GetCurrentProcess();
                return new JsonObject
                {
                    ["rss"] = self.WorkingSet64,
                    ["heapUsed"] = GC.GetTotalMemory(forceFullCollection: true),
                    ["connections"] = host.Connections.Count,
                };
            }
            case "stop":
                return [];
            default:
                throw new ArgumentException($"unknown command {command["cmd"]}");
        }
    }

    private static readonly Lock s_stdout = new();

    internal static void Write(JsonObject json)
    {
        lock (s_stdout)
        {
            Console.Out.WriteLine(json.ToJsonString(JsonSerializerOptions.Default));
            Console.Out.Flush();
        }
    }
}
