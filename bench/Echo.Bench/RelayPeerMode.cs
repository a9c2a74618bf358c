using System.Text.Json.Nodes;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Relay;
using Echo.Net.ResourceManager;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Bench;

/// <summary>
/// <c>echo-bench relay-peer</c>: an Echo node with the relay service on, driven like <see cref="PeerMode"/>
/// (first line <c>{"type":"ready",…}</c>, then one JSON reply per command: <c>stats</c>, <c>stop</c>).
/// The relay bench (<see cref="RelayBench"/>) serves its circuits from loopback clients, so the caps
/// that count per IP address or per peer are lifted (<see cref="BenchOptions"/>); the per-circuit data
/// limit stays go's 128 KiB, and the duration limit is <c>RELAY_DURATION_S</c> seconds (the bench
/// gives both relays the same).
/// </summary>
internal static class RelayPeerMode
{
    /// <summary>The relay service's settings in the bench: go's defaults with the per-IP and per-peer caps lifted.</summary>
    internal static RelayServiceOptions BenchOptions(TimeSpan duration) => new()
    {
        Mode = RelayServiceMode.On,
        MaxReservations = 4096,
        MaxReservationsPerIp = 4096,
        MaxCircuitsPerPeer = 256,
        MaxCircuits = 4096,
        CircuitDuration = duration,
    };

    public static async Task<int> RunAsync()
    {
        if (Environment.GetEnvironmentVariable("RELAY_KEEP_MALLOC") != "1")
            NativeHeap.ReturnFreedBlocksToTheSystem();   // as echo-chat does at start
        string listen = Environment.GetEnvironmentVariable("LISTEN") ?? "/ip4/127.0.0.1/tcp/0";
        int seconds = int.TryParse(Environment.GetEnvironmentVariable("RELAY_DURATION_S"), System.Globalization.CultureInfo.InvariantCulture,
            out int s) ? s : 120;
        // RELAY_LOG=1: the node's Debug logs on stderr (stdout carries the JSON lines).
        using ILoggerFactory loggers = Environment.GetEnvironmentVariable("RELAY_LOG") == "1"
            ? LoggerFactory.Create(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Debug))
            : NullLoggerFactory.Instance;
        using KeyPair key = KeyPair.Generate();
        HostOptions options = new()
        {
            ListenAddresses = [Multiaddr.Parse(listen)],
            MaxInboundConnections = 4096,
            Limits = new ResourceLimits { HighWatermark = 4096, LowWatermark = 4000 },
        };
        await using Libp2pHost host = new(key, options, loggers);
        await host.StartAsync(CancellationToken.None);
        await using RelayService relay = new(host, BenchOptions(TimeSpan.FromSeconds(seconds)), loggers);
        relay.Start();
        PeerMode.Write(new JsonObject
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
            string cmd = command["cmd"]?.GetValue<string>() ?? "";
            RelayServiceStats stats = relay.Stats;
            JsonObject reply = cmd switch
            {
                "stats" => new JsonObject
                {
                    ["ok"] = true,
                    ["reservations"] = stats.Reservations,
                    ["circuits"] = stats.Circuits,
                    ["circuitsServed"] = stats.CircuitsServed,
                    ["connections"] = host.Connections.Count,
                    // where the process's memory goes (no collection forced: the figures stay those of the run)
                    ["threads"] = System.Diagnostics.Process.GetCurrentProcess().Threads.Count,
                    ["gcHeapBytes"] = GC.GetGCMemoryInfo().HeapSizeBytes,
                    ["gcCommittedBytes"] = GC.GetGCMemoryInfo().TotalCommittedBytes,
                    ["jitMethods"] = System.Runtime.JitInfo.GetCompiledMethodCount(),
                },
                // as the js node's "heap": a full, compacting collection first (the bench reads the RSS after it)
                "heap" => Collect(),
                "stop" => new JsonObject { ["ok"] = true },
                _ => new JsonObject { ["ok"] = false, ["error"] = $"unknown command {cmd}" },
            };
            reply["id"] = command["id"]?.DeepClone();
            PeerMode.Write(reply);
            if (cmd == "stop")
                break;
        }
        return 0;
    }

    private static JsonObject Collect()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return new JsonObject { ["ok"] = true, ["heapUsed"] = GC.GetTotalMemory(forceFullCollection: false) };
    }
}
