using System.Diagnostics;
using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>
/// Two echo-chat nodes on a two-host LAN (network namespaces joined by a veth pair, no default
/// route), started without any --connect: mDNS alone must bring them together.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed class MdnsNamespaceTests
{
    private static readonly TimeSpan Discovery = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static bool IsPeerConnected(JsonElement e, string peerId) =>
        e.GetProperty("type").GetString() == "peer" && e.GetProperty("event").GetString() == "connected"
        && e.GetProperty("peerId").GetString() == peerId;

    [Theory(Timeout = 60_000)]
    [InlineData("/ip4/0.0.0.0/tcp/0")]
    [InlineData("/ip6/::/tcp/0")]
    public async Task Two_nodes_find_each_other_and_chat_within_ten_seconds(string listen)
    {
        await using NetworkNamespacePair lan = await NetworkNamespacePair.CreateAsync(Ct);
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct, networkNamespace: lan.First, mdns: true,
            listen: listen);
        await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", [], Ct, networkNamespace: lan.Second, mdns: true,
            listen: listen);
        Stopwatch clock = Stopwatch.StartNew();             // both are up: from here on it is mDNS

        JsonElement atAlice = await alice.NextAsync(e => IsPeerConnected(e, bob.PeerId), Discovery, Ct);
        JsonElement atBob = await bob.NextAsync(e => IsPeerConnected(e, alice.PeerId), Discovery, Ct);
        // Whoever dialed reports the peer as found by mDNS, the other one as inbound.
        string[] sources = [atAlice.GetProperty("source").GetString()!, atBob.GetProperty("source").GetString()!];
        Assert.Contains("mdns", sources);
        Assert.All(sources, s => Assert.Contains(s, (string[])["mdns", "inbound"]));
        Assert.DoesNotContain("/127.0.0.1/", atAlice.GetProperty("address").GetString(), StringComparison.Ordinal);

        await alice.SendLineAsync("hello over the LAN");
        JsonElement message = await bob.NextAsync(e => e.GetProperty("type").GetString() == "message"
            && e.GetProperty("text").GetString() == "hello over the LAN", Discovery, Ct);
        Assert.Equal(alice.PeerId, message.GetProperty("from").GetString());
        TestContext.Current.TestOutputHelper?.WriteLine($"found each other and chatted {clock.Elapsed.TotalSeconds:0.00} s after both were up");
        Assert.True(clock.Elapsed < Discovery, $"discovery and the first message took {clock.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>
    /// Rule D-1 of docs/LIMITS.md asks for discovery in 20 runs out of 20: fresh nodes (new peer ids, new
    /// random mDNS names) on one LAN, twenty times over, each pair connected both ways within the limit.
    /// </summary>
    [Fact(Timeout = 300_000)]
    public async Task Twenty_fresh_pairs_out_of_twenty_find_each_other()
    {
        await using NetworkNamespacePair lan = await NetworkNamespacePair.CreateAsync(Ct);
        List<double> seconds = [];
        for (int run = 0; run < 20; run++)
        {
            await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct, networkNamespace: lan.First, mdns: true,
                listen: "/ip4/0.0.0.0/tcp/0");
            await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", [], Ct, networkNamespace: lan.Second, mdns: true,
                listen: "/ip4/0.0.0.0/tcp/0");
            Stopwatch clock = Stopwatch.StartNew();
            await alice.NextAsync(e => IsPeerConnected(e, bob.PeerId), Discovery, Ct);
            await bob.NextAsync(e => IsPeerConnected(e, alice.PeerId), Discovery, Ct);
            seconds.Add(clock.Elapsed.TotalSeconds);
            Assert.True(clock.Elapsed < Discovery, $"run {run + 1}: connected both ways after {clock.Elapsed.TotalSeconds:0.0} s");
        }
        seconds.Sort();
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"20/20 runs connected both ways; after both were up: median {seconds[10]:0.00} s, max {seconds[^1]:0.00} s");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_node_with_no_mdns_is_neither_found_nor_finds()
    {
        await using NetworkNamespacePair lan = await NetworkNamespacePair.CreateAsync(Ct);
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct, networkNamespace: lan.First, mdns: true,
            listen: "/ip4/0.0.0.0/tcp/0");
        await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", [], Ct, networkNamespace: lan.Second, mdns: false,
            listen: "/ip4/0.0.0.0/tcp/0");

        Task<JsonElement> atAlice = alice.NextAsync(e => e.GetProperty("type").GetString() == "peer", TimeSpan.FromSeconds(6), Ct);
        Task<JsonElement> atBob = bob.NextAsync(e => e.GetProperty("type").GetString() == "peer", TimeSpan.FromSeconds(6), Ct);
        await Assert.ThrowsAsync<TimeoutException>(() => atAlice);
        await Assert.ThrowsAsync<TimeoutException>(() => atBob);
    }
}

/// <summary>
/// The namespace tests start several processes each; they run alone, so that their load does not
/// push other process tests past their timeouts on a small machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NetworkNamespaceCollection
{
    public const string Name = "network namespaces";
}
