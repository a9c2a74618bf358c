using System.Text;
using System.Text.Json;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Pubsub;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Interop.Tests;

/// <summary>
/// Gossipsub against the pinned js-libp2p peer (@libp2p/gossipsub 17.1.1, GOSSIPSUB=1): messages both
/// ways, signatures checked by both sides, and a line js — C# — js where only the C# node can forward.
/// </summary>
/// <remarks>
/// js computes message ids as <c>encoded public key || seqno</c> (its StrictSign default), go and our
/// default as <c>from || seqno</c>. Mesh forwarding works either way, but IHAVE/IWANT/IDONTWANT ids
/// would not match, so the C# router here uses <see cref="PubsubMessageIds.KeyAndSeqno"/>: the id
/// function is ours to configure, while the js peer keeps js's defaults.
/// </remarks>
public sealed class PubsubInteropTests
{
    private const string Topic = "echo-interop";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    private static readonly PubsubOptions JsCompatible = new()
    {
        MessageIdFunction = PubsubMessageIds.KeyAndSeqno,
        HeartbeatInterval = TimeSpan.FromMilliseconds(200),
    };

    private static async Task<JsPeer> StartJsAsync()
    {
        await NodeRequirement.EnsureAvailableAsync(Ct);
        JsPeer js = await JsPeer.StartAsync(new Dictionary<string, string> { ["GOSSIPSUB"] = "1" }, Ct);
        await js.CommandAsync("subscribe", new { topic = Topic }, Ct);
        return js;
    }

    private static async Task<(Libp2pHost Host, PubsubRouter Router)> StartNodeAsync(PubsubOptions? options = null)
    {
        Libp2pHost host = await TestHosts.StartAsync();
        PubsubRouter router = new(host, options ?? JsCompatible, NullLoggerFactory.Instance);
        await router.StartAsync(Ct);
        return (host, router);
    }

    /// <summary>js refuses to publish before it knows a subscribed peer; retry until it has one (bounded).</summary>
    private static async Task<JsonElement> JsPublishAsync(JsPeer js, string text)
    {
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(30));
        using PeriodicTimer retry = new(TimeSpan.FromMilliseconds(100));
        while (true)
        {
            try
            {
                JsonElement reply = await js.CommandAsync("publish", new { topic = Topic, data = text }, bound.Token);
                if (reply.GetProperty("recipients").GetArrayLength() > 0)
                    return reply;
            }
            catch (JsPeerException e) when (e.JsError?.Contains("NoPeersSubscribedToTopic", StringComparison.Ordinal) == true
                || e.JsError?.Contains("PublishError", StringComparison.Ordinal) == true)
            {
                // Not subscribed peers yet: our hello has not reached js.
            }
            await retry.WaitForNextTickAsync(bound.Token);
        }
    }

    private static Task<JsonElement> NextJsMessageAsync(JsPeer js, string text) =>
        js.WaitForEventAsync(e => e.GetProperty("event").GetString() == "pubsub:message"
            && Encoding.UTF8.GetString(Convert.FromBase64String(e.GetProperty("dataBase64").GetString()!)) == text, Long, Ct);

    private static async Task WaitUntilAsync(Func<bool> condition, string what) =>
        await TestHosts.WaitUntilAsync(condition, what, TimeSpan.FromSeconds(30));

    [Fact(Timeout = 120_000)]
    public async Task CSharpDialsJs_MessagesBothWays_SignaturesVerifiedOnBothSides()
    {
        await using JsPeer js = await StartJsAsync();
        (Libp2pHost host, PubsubRouter router) = await StartNodeAsync();
        await using Libp2pHost _ = host;
        await using PubsubRouter __ = router;
        await using PubsubSubscription sub = router.Subscribe(Topic);
        PeerId jsId = PeerId.Parse(js.PeerId);
        await host.DialAsync(Multiaddr.Parse(js.Addr), Ct).WaitAsync(Long, Ct);
        await WaitUntilAsync(() => router.TopicPeers(Topic).Contains(jsId), "js's subscription reached us");
        Assert.Equal(PubsubRouter.MeshsubV12, router.GetPeer(jsId)!.Protocol);

        // js -> C#: js signs (and always sends its key); we verify, and the id is js's.
        await JsPublishAsync(js, "from js");
        PubsubMessage fromJs = await sub.Messages.ReadAsync(Ct).AsTask().WaitAsync(Long, Ct);
        Assert.Equal("from js", Encoding.UTF8.GetString(fromJs.Data.Span));
        Assert.Equal(jsId, fromJs.From);
        Assert.NotNull(fromJs.Key);
        Assert.True(PubsubMessage.Verify(fromJs.From.Bytes, fromJs.Data.Span, fromJs.SeqnoBytes(), fromJs.Topic,
            fromJs.Signature.Span, fromJs.Key.Value.Span, out string? error), error);
        Assert.Equal(PubsubMessageIds.KeyAndSeqno(fromJs), fromJs.Id.ToArray());

        // C# -> js: js delivers only what passes its StrictSign check (key inlined in from, no key field).
        Task<JsonElement> arrival = NextJsMessageAsync(js, "from C#");
        PubsubMessage sent = await router.PublishAsync(Topic, Encoding.UTF8.GetBytes("from C#"), Ct);
        JsonElement atJs = await arrival;
        Assert.Equal(host.PeerId.ToString(), atJs.GetProperty("from").GetString());
        Assert.Equal(Topic, atJs.GetProperty("topic").GetString());
        Assert.Null(sent.Key);
        await WaitUntilAsync(() => router.MeshPeers(Topic).Contains(jsId), "js is in our mesh");
    }

    [Fact(Timeout = 120_000)]
    public async Task JsDialsCSharp_WithKeyField_MessagesBothWays()
    {
        await using JsPeer js = await StartJsAsync();
        (Libp2pHost host, PubsubRouter router) = await StartNodeAsync(JsCompatible with { IncludeKey = true });
        await using Libp2pHost _ = host;
        await using PubsubRouter __ = router;
        await using PubsubSubscription sub = router.Subscribe(Topic);
        PeerId jsId = PeerId.Parse(js.PeerId);
        await js.CommandAsync("dial", new { addr = TestHosts.AddressOf(host).ToString() }, Ct);
        await WaitUntilAsync(() => router.TopicPeers(Topic).Contains(jsId), "js's subscription reached us");

        Task<JsonElement> arrival = NextJsMessageAsync(js, "keyed C# message");
        PubsubMessage sent = await router.PublishAsync(Topic, Encoding.UTF8.GetBytes("keyed C# message"), Ct);
        Assert.NotNull(sent.Key);
        Assert.Equal(host.PeerId.ToString(), (await arrival).GetProperty("from").GetString());

        await JsPublishAsync(js, "js answers");
        PubsubMessage fromJs = await sub.Messages.ReadAsync(Ct).AsTask().WaitAsync(Long, Ct);
        Assert.Equal("js answers", Encoding.UTF8.GetString(fromJs.Data.Span));
    }

    private static async Task<HashSet<string>> JsMeshAsync(JsPeer js) =>
        [.. (await js.CommandAsync("meshPeers", new { topic = Topic }, Ct)).GetProperty("peers").EnumerateArray().Select(p => p.GetString()!)];

    /// <summary>Polls the js peers' meshes until <paramref name="condition"/> holds for each, failing after <paramref name="bound"/>.</summary>
    private static async Task WaitForJsMeshesAsync(IEnumerable<JsPeer> peers, Func<JsPeer, HashSet<string>, bool> condition, TimeSpan bound, string what)
    {
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(bound);
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(50));
        foreach (JsPeer js in peers)
        {
            while (!condition(js, await JsMeshAsync(js)))
            {
                try
                {
                    await poll.WaitForNextTickAsync(limit.Token);
                }
                catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
                {
                    Assert.Fail($"{what} not within {bound.TotalSeconds} s; js {js.PeerId} has [{string.Join(", ", await JsMeshAsync(js))}]");
                }
            }
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task LateCSharpNode_JoinsMeshedJsPeers_MeshFormsWithinAFewHeartbeats_MessagesBothWays()
    {
        // Three js peers, all connected and meshed on the topic before the C# node exists.
        await using JsPeer a = await StartJsAsync();
        await using JsPeer b = await StartJsAsync();
        await using JsPeer c = await StartJsAsync();
        JsPeer[] js = [a, b, c];
        await b.CommandAsync("dial", new { addr = a.Addr }, Ct);
        await c.CommandAsync("dial", new { addr = a.Addr }, Ct);
        await c.CommandAsync("dial", new { addr = b.Addr }, Ct);
        await WaitForJsMeshesAsync(js, (peer, mesh) => js.Where(o => o != peer).All(o => mesh.Contains(o.PeerId)), Long, "the js mesh");

        // The C# node starts late, with js's one-second heartbeat, dials all three and subscribes.
        (Libp2pHost host, PubsubRouter router) = await StartNodeAsync(JsCompatible with { HeartbeatInterval = TimeSpan.FromSeconds(1) });
        await using Libp2pHost _ = host;
        await using PubsubRouter __ = router;
        foreach (JsPeer peer in js)
            await host.DialAsync(Multiaddr.Parse(peer.Addr), Ct).WaitAsync(Long, Ct);
        System.Diagnostics.Stopwatch joined = System.Diagnostics.Stopwatch.StartNew();
        await using PubsubSubscription sub = router.Subscribe(Topic);

        // Within five heartbeats: every js peer in our mesh, and we in each of theirs.
        TimeSpan bound = TimeSpan.FromSeconds(5);
        PeerId[] jsIds = [.. js.Select(p => PeerId.Parse(p.PeerId))];
        await TestHosts.WaitUntilAsync(() => jsIds.All(router.MeshPeers(Topic).Contains), "all js peers in our mesh", bound);
        await WaitForJsMeshesAsync(js, (_, mesh) => mesh.Contains(host.PeerId.ToString()),
            TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, (bound - joined.Elapsed).Ticks)), "the C# node in every js mesh");

        // js -> C#, then C# -> every js peer.
        await JsPublishAsync(b, "js after the join");
        PubsubMessage fromJs = await sub.Messages.ReadAsync(Ct).AsTask().WaitAsync(Long, Ct);
        Assert.Equal("js after the join", Encoding.UTF8.GetString(fromJs.Data.Span));
        Assert.Equal(jsIds[1], fromJs.From);
        Task<JsonElement>[] arrivals = [.. js.Select(p => NextJsMessageAsync(p, "C# after the join"))];
        await router.PublishAsync(Topic, Encoding.UTF8.GetBytes("C# after the join"), Ct);
        foreach (JsonElement arrival in await Task.WhenAll(arrivals))
            Assert.Equal(host.PeerId.ToString(), arrival.GetProperty("from").GetString());
    }

    [Fact(Timeout = 120_000)]
    public async Task Line_JsCSharpJs_TheCSharpNodeForwardsBothWays()
    {
        await using JsPeer left = await StartJsAsync();
        await using JsPeer right = await StartJsAsync();
        (Libp2pHost host, PubsubRouter router) = await StartNodeAsync();
        await using Libp2pHost _ = host;
        await using PubsubRouter __ = router;
        await using PubsubSubscription sub = router.Subscribe(Topic);
        PeerId leftId = PeerId.Parse(left.PeerId);
        PeerId rightId = PeerId.Parse(right.PeerId);
        await host.DialAsync(Multiaddr.Parse(left.Addr), Ct).WaitAsync(Long, Ct);
        await host.DialAsync(Multiaddr.Parse(right.Addr), Ct).WaitAsync(Long, Ct);
        await WaitUntilAsync(() => router.MeshPeers(Topic).Count == 2, "both js peers are in our mesh");

        // The two js peers know nothing of each other: only the C# node links them.
        JsonElement connections = await left.CommandAsync("connections", null, Ct);
        Assert.All(connections.GetProperty("connections").EnumerateArray(),
            c => Assert.Equal(host.PeerId.ToString(), c.GetProperty("peerId").GetString()));

        long forwardedBefore = router.Counters.Forwarded;
        Task<JsonElement> atRight = NextJsMessageAsync(right, "left to right");
        await JsPublishAsync(left, "left to right");
        Assert.Equal(leftId.ToString(), (await atRight).GetProperty("from").GetString());
        Assert.Equal("left to right", Encoding.UTF8.GetString((await sub.Messages.ReadAsync(Ct).AsTask().WaitAsync(Long, Ct)).Data.Span));

        Task<JsonElement> atLeft = NextJsMessageAsync(left, "right to left");
        await JsPublishAsync(right, "right to left");
        Assert.Equal(rightId.ToString(), (await atLeft).GetProperty("from").GetString());
        Assert.True(router.Counters.Forwarded >= forwardedBefore + 2);
    }
}
