using System.Text.Json;

namespace Echo.Interop.Tests;

/// <summary>
/// The pinned js-libp2p peer with @libp2p/mdns in one network namespace, echo-chat in the other:
/// each must discover the other (js reports peer:discovery for Echo; Echo dials js because it
/// found it, so reports it with source mdns), then they chat in the lobby.
/// </summary>
[Collection(MdnsNamespaceCollection.Name)]
public sealed class MdnsInteropTests
{
    private static readonly TimeSpan Discovery = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(20);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 90_000)]
    public async Task Js_and_Echo_discover_each_other_both_ways_and_chat()
    {
        await NodeRequirement.EnsureAvailableAsync(Ct);
        await using NetworkNamespacePair lan = await NetworkNamespacePair.CreateAsync(Ct);
        // js's multicast-dns sends without naming an interface, which needs a route for the group;
        // Echo names the interface and needs none (its namespace has no route at all).
        await NetworkNamespacePair.ExecAsync(lan.First, ["ip", "route", "add", "224.0.0.0/4", "dev", lan.FirstInterface], Ct);
        await using JsPeer js = await JsPeer.StartAsync(new Dictionary<string, string>
        {
            ["MDNS"] = "1",
            ["GOSSIPSUB"] = "1",
            ["LISTEN"] = "/ip4/0.0.0.0/tcp/0",
        }, lan.First, Ct);
        await js.CommandAsync("subscribe", new { topic = "chat-room:lobby" }, Ct);
        await using EchoChatProcess echo = await EchoChatProcess.StartAsync("alice", [], Ct, networkNamespace: lan.Second, mdns: true,
            listen: "/ip4/0.0.0.0/tcp/0");

        // js found Echo's answer...
        JsonElement found = await js.WaitForEventAsync(e => e.GetProperty("event").GetString() == "peer:discovery"
            && e.GetProperty("peerId").GetString() == echo.PeerId, Discovery, Ct);
        Assert.Contains(found.GetProperty("addrs").EnumerateArray(), a => a.GetString()!.Contains(NetworkNamespacePair.SecondAddress,
            StringComparison.Ordinal));
        // ...and Echo found js's (js-libp2p does not dial what it discovers, so this connection is Echo's mDNS dial).
        JsonElement connected = await echo.NextAsync(e => e.GetProperty("type").GetString() == "peer"
            && e.GetProperty("event").GetString() == "connected" && e.GetProperty("peerId").GetString() == js.PeerId, Discovery, Ct);
        Assert.Equal("mdns", connected.GetProperty("source").GetString());
        Assert.Contains(NetworkNamespacePair.FirstAddress, connected.GetProperty("address").GetString(), StringComparison.Ordinal);

        // Echo -> js, once js's lobby subscription reached Echo (re-sent until js hears it).
        using (CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            bound.CancelAfter(Long);
            Task<JsonElement> arrival = js.WaitForEventAsync(e => e.GetProperty("event").GetString() == "chat:message"
                && e.GetProperty("text").GetString() == "hello js", Long, bound.Token);
            using PeriodicTimer retry = new(TimeSpan.FromMilliseconds(500));
            while (!arrival.IsCompleted)
            {
                await echo.SendLineAsync("hello js");
                await Task.WhenAny(arrival, retry.WaitForNextTickAsync(bound.Token).AsTask());
            }
            Assert.Equal(echo.PeerId, (await arrival).GetProperty("from").GetString());
        }

        // js -> Echo.
        using (CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            bound.CancelAfter(Long);
            using PeriodicTimer retry = new(TimeSpan.FromMilliseconds(200));
            while (true)
            {
                try
                {
                    JsonElement reply = await js.CommandAsync("chatPublish", new { room = "lobby", nick = "jsnick", text = "hello echo" }, bound.Token);
                    if (reply.GetProperty("recipients").GetArrayLength() > 0)
                        break;
                }
                catch (JsPeerException e) when (e.JsError?.Contains("PublishError", StringComparison.Ordinal) == true
                    || e.JsError?.Contains("NoPeersSubscribedToTopic", StringComparison.Ordinal) == true)
                {
                }
                await retry.WaitForNextTickAsync(bound.Token);
            }
        }
        JsonElement message = await echo.NextAsync(e => e.GetProperty("type").GetString() == "message"
            && e.GetProperty("text").GetString() == "hello echo", Long, Ct);
        Assert.Equal(js.PeerId, message.GetProperty("from").GetString());
        Assert.Equal("jsnick", message.GetProperty("nick").GetString());
    }
}

/// <summary>The namespace test starts node and echo-chat; it runs alone, so its load does not push other tests past their timeouts.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MdnsNamespaceCollection
{
    public const string Name = "network namespaces";
}
