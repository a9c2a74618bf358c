using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>
/// echo-chat nodes on a bridged LAN of network namespaces, started without --connect: three nodes
/// must all find each other by mDNS alone and chat. The figures are written to the test output.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class MdnsLanTests
{
    private static readonly TimeSpan Discovery = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Report(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    internal static bool IsPeerConnected(JsonElement e, string peerId) =>
        e.GetProperty("type").GetString() == "peer" && e.GetProperty("event").GetString() == "connected"
        && e.GetProperty("peerId").GetString() == peerId;

    [Fact(Timeout = 60_000)]
    public async Task Three_nodes_on_a_bridge_find_each_other_and_a_message_reaches_all()
    {
        await using NetworkNamespaceLan lan = await NetworkNamespaceLan.CreateAsync(3, Ct);
        string[] names = ["alice", "bob", "carol"];
        Stopwatch clock = Stopwatch.StartNew();
        EchoChatProcess[] nodes = await StartAllAsync(lan, names);
        await using EchoChatProcess alice = nodes[0], bob = nodes[1], carol = nodes[2];
        TimeSpan allReady = clock.Elapsed;

        // Each node waits on its own events, so every connection is timed when it is reported.
        Dictionary<(int At, int Peer), TimeSpan> connected = new();
        async Task WatchAsync(int at)
        {
            HashSet<string> missing = [.. nodes.Where((_, i) => i != at).Select(n => n.PeerId)];
            while (missing.Count > 0)
            {
                JsonElement e = await nodes[at].NextAsync(e => missing.Any(p => IsPeerConnected(e, p)), allReady + Discovery - clock.Elapsed, Ct);
                string peer = e.GetProperty("peerId").GetString()!;
                missing.Remove(peer);
                lock (connected)
                    connected[(at, Array.FindIndex(nodes, n => n.PeerId == peer))] = clock.Elapsed;
                Assert.Contains(e.GetProperty("source").GetString(), (string[])["mdns", "inbound"]);
                Assert.DoesNotContain("/127.0.0.1/", e.GetProperty("address").GetString(), StringComparison.Ordinal);
            }
        }
        await Task.WhenAll(Enumerable.Range(0, 3).Select(WatchAsync));
        TimeSpan allConnected = connected.Values.Max();
        Report(string.Create(CultureInfo.InvariantCulture,
            $"3 nodes: all up {allReady.TotalSeconds:0.00} s after launch; every pair connected {(allConnected - allReady).TotalSeconds:0.00} s after all were up ({allConnected.TotalSeconds:0.00} s after launch)"));
        foreach (((int at, int peer), TimeSpan when) in connected.OrderBy(c => c.Value))
            Report(string.Create(CultureInfo.InvariantCulture, $"  {names[at]} connected to {names[peer]} at +{(when - allReady).TotalSeconds:0.00} s"));

        // A message from alice reaches both others (numbered probes until the room has formed).
        TimeSpan heard = await ProbeUntilHeardAsync(alice, [bob, carol], clock);
        Report(string.Create(CultureInfo.InvariantCulture, $"  a message from alice reached bob and carol {(heard - allReady).TotalSeconds:0.00} s after all were up"));
        Assert.True(allConnected - allReady < Discovery, $"discovery took {(allConnected - allReady).TotalSeconds:0.0} s");
    }

    /// <summary>Starts one mDNS node per name, the i-th in host i of <paramref name="lan"/>, all at once; none is left running on failure.</summary>
    internal static async Task<EchoChatProcess[]> StartAllAsync(NetworkNamespaceLan lan, IReadOnlyList<string> names, int firstHost = 0)
    {
        Task<EchoChatProcess>[] starting = [.. names.Select((name, i) => EchoChatProcess.StartAsync(name, [], Ct,
            networkNamespace: lan.Hosts[firstHost + i], mdns: true, listen: "/ip4/0.0.0.0/tcp/0"))];
        try
        {
            return await Task.WhenAll(starting);
        }
        catch
        {
            foreach (Task<EchoChatProcess> started in starting.Where(t => t.IsCompletedSuccessfully))
                await (await started).DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Sends numbered lines from <paramref name="sender"/> until every listener heard one (gossipsub
    /// peers exchange subscriptions right after connecting; a line sent before is not heard). Returns
    /// when the last listener heard one, on <paramref name="clock"/>.
    /// </summary>
    internal static async Task<TimeSpan> ProbeUntilHeardAsync(EchoChatProcess sender, IReadOnlyList<EchoChatProcess> listeners, Stopwatch clock)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(Discovery);
        string tag = $"hello LAN from {sender.PeerId[^6..]}";
        Task[] heard = [.. listeners.Select(l => l.NextAsync(e => e.GetProperty("type").GetString() == "message"
            && e.GetProperty("text").GetString()!.StartsWith(tag, StringComparison.Ordinal)
            && e.GetProperty("from").GetString() == sender.PeerId, Discovery, limit.Token))];
        Task all = Task.WhenAll(heard);
        using PeriodicTimer retry = new(TimeSpan.FromMilliseconds(300));
        for (int probe = 0; !all.IsCompleted; probe++)
        {
            await sender.SendLineAsync($"{tag} {probe}");
            await Task.WhenAny(all, retry.WaitForNextTickAsync(limit.Token).AsTask());
        }
        await all;
        return clock.Elapsed;
    }
}
