using System.Text;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Pubsub;
using Wire = Echo.Net.Pubsub.Pb;

namespace Echo.Net.Tests.Pubsub;

/// <summary>Several real routers on loopback: streams, subscriptions, mesh, publish, forward, validators.</summary>
public class PubsubRouterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ReadOnlyMemory<byte> Text(string s) => Encoding.UTF8.GetBytes(s);

    private static string Text(PubsubMessage m) => Encoding.UTF8.GetString(m.Data.Span);

    [Fact(Timeout = 30_000)]
    public async Task Start_RegistersProtocols_IdentifyAnnouncesThem()
    {
        await using Libp2pHost b = await TestHosts.StartAsync();          // disposed last: the dialer's close is the slow one
        await using PubsubNode a = await PubsubNode.StartAsync();
        foreach (string protocol in PubsubRouter.Protocols)
            Assert.Contains(protocol, a.Host.Protocols);
        TaskCompletionSource<IdentifyInfo> identified = new(TaskCreationOptions.RunContinuationsAsynchronously);
        b.PeerIdentified += (c, info) => identified.TrySetResult(info);
        await b.DialAsync(a.Address, Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        IdentifyInfo info = await identified.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.True(info.Supports(PubsubRouter.MeshsubV12));
        Assert.True(info.Supports(PubsubRouter.MeshsubV11));
        Assert.True(info.Supports(PubsubRouter.MeshsubV10));
        Assert.True(info.Supports(PubsubRouter.FloodsubProtocol));
    }

    [Fact(Timeout = 30_000)]
    public async Task TwoNodes_PublishBothWays_DeliveredWithVerifiedFields()
    {
        await using PubsubNode a = await PubsubNode.StartAsync();
        await using PubsubNode b = await PubsubNode.StartAsync();
        await using PubsubSubscription subA = a.Router.Subscribe("chat");
        await using PubsubSubscription subB = b.Router.Subscribe("chat");
        await a.ConnectAsync(b);
        await PubsubWait.TopicPeersAsync(a, "chat", 1);
        await PubsubWait.TopicPeersAsync(b, "chat", 1);
        Assert.Equal(PubsubRouter.MeshsubV12, a.Router.GetPeer(b.Id)!.Protocol);

        PubsubMessage sent = await a.Router.PublishAsync("chat", Text("hello from a"), Ct);
        PubsubMessage got = await PubsubWait.NextAsync(subB);
        Assert.Equal("hello from a", Text(got));
        Assert.Equal(a.Id, got.From);
        Assert.Equal(a.Id, got.ReceivedFrom);
        Assert.Equal(sent.Seqno, got.Seqno);
        Assert.Equal("chat", got.Topic);
        Assert.Equal(sent.Signature.ToArray(), got.Signature.ToArray());
        Assert.Equal(PubsubMessageIds.FromAndSeqno(sent), got.Id.ToArray());
        Assert.True(PubsubMessage.Verify(got.From.Bytes, got.Data.Span, got.SeqnoBytes(), got.Topic, got.Signature.Span, default, out _));

        PubsubMessage second = await a.Router.PublishAsync("chat", Text("again"), Ct);
        Assert.True(second.Seqno > sent.Seqno);
        Assert.Equal("again", Text(await PubsubWait.NextAsync(subB)));

        await b.Router.PublishAsync("chat", Text("hello from b"), Ct);
        Assert.Equal("hello from b", Text(await PubsubWait.NextAsync(subA)));
        Assert.False(subA.Messages.TryRead(out _));              // own messages are not delivered by default
        await TestHosts.WaitUntilAsync(() => a.Router.MeshPeers("chat").Contains(b.Id) && b.Router.MeshPeers("chat").Contains(a.Id), "the mesh formed");
    }

    [Fact(Timeout = 30_000)]
    public async Task SubscribeAfterConnecting_PeersLearnIt_UnsubscribeRemovesIt()
    {
        await using PubsubNode a = await PubsubNode.StartAsync();
        await using PubsubNode b = await PubsubNode.StartAsync();
        await a.ConnectAsync(b);
        await TestHosts.WaitUntilAsync(() => a.Router.Peers.Contains(b.Id) && b.Router.Peers.Contains(a.Id), "pubsub peers");
        PubsubSubscription sub = b.Router.Subscribe("late");
        await PubsubWait.TopicPeersAsync(a, "late", 1);
        await sub.DisposeAsync();
        await TestHosts.WaitUntilAsync(() => a.Router.TopicPeers("late").Count == 0, "a forgets b's subscription");
        Assert.False(await sub.Messages.WaitToReadAsync(Ct));     // completed
    }

    [Fact(Timeout = 30_000)]
    public async Task AMessagePublishedJustBeforeAPeersSubscriptionArrived_ReachesItThroughTheIHaveItIsOffered()
    {
        // The default heartbeat: the gossip window is its three last heartbeats, 3 s.
        await using PubsubNode a = await PubsubNode.StartAsync(new PubsubOptions());
        await using PubsubNode b = await PubsubNode.StartAsync();
        await a.ConnectAsync(b);
        await TestHosts.WaitUntilAsync(() => a.Router.Peers.Contains(b.Id) && b.Router.Peers.Contains(a.Id), "pubsub peers");
        await using PubsubSubscription subA = a.Router.Subscribe("chat");
        // b has not subscribed yet: the message goes to no one, and stays in a's gossip window.
        await a.Router.PublishAsync("chat", Text("said right after connecting"), Ct);
        await using PubsubSubscription subB = b.Router.Subscribe("chat");
        Assert.Equal("said right after connecting", Text(await PubsubWait.NextAsync(subB)));
        // Offered when b's subscription arrived (and again if a grafts b while it is still in the window).
        Assert.InRange(a.Router.Counters.RecentOffered, 1, 2);
    }

    [Fact(Timeout = 30_000)]
    public async Task Line_MiddleNodeForwards()
    {
        await using PubsubNode a = await PubsubNode.StartAsync();
        await using PubsubNode b = await PubsubNode.StartAsync();
        await using PubsubNode c = await PubsubNode.StartAsync();
        await using PubsubSubscription subA = a.Router.Subscribe("t");
        await using PubsubSubscription subB = b.Router.Subscribe("t");
        await using PubsubSubscription subC = c.Router.Subscribe("t");
        await a.ConnectAsync(b);
        await c.ConnectAsync(b);
        await TestHosts.WaitUntilAsync(() => b.Router.MeshPeers("t").Count == 2 && a.Router.MeshPeers("t").Count == 1
            && c.Router.MeshPeers("t").Count == 1, "the line's mesh formed");
        await a.Router.PublishAsync("t", Text("over the middle"), Ct);
        PubsubMessage atC = await PubsubWait.NextAsync(subC);
        Assert.Equal(a.Id, atC.From);
        Assert.Equal(b.Id, atC.ReceivedFrom);
        Assert.Equal("over the middle", Text(await PubsubWait.NextAsync(subB)));
        await c.Router.PublishAsync("t", Text("back"), Ct);
        Assert.Equal("back", Text(await PubsubWait.NextAsync(subA)));
    }

    [Fact(Timeout = 30_000)]
    public async Task Validators_RejectPenalisesIgnoreDoesNot()
    {
        await using PubsubNode a = await PubsubNode.StartAsync();
        await using PubsubNode b = await PubsubNode.StartAsync();
        await using PubsubSubscription subB = b.Router.Subscribe("v");
        b.Router.AddValidator("v", m => Text(m) switch
        {
            "bad" => ValidationResult.Reject,
            "meh" => ValidationResult.Ignore,
            _ => ValidationResult.Accept,
        });
        await a.ConnectAsync(b);
        await PubsubWait.TopicPeersAsync(a, "v", 1);
        await a.Router.PublishAsync("v", Text("meh"), Ct);
        await a.Router.PublishAsync("v", Text("bad"), Ct);
        await a.Router.PublishAsync("v", Text("good"), Ct);
        Assert.Equal("good", Text(await PubsubWait.NextAsync(subB)));
        // One penalty (Reject), none for Ignore. The counter decays by 1 % at every heartbeat, and
        // this test runs on the real clock, so a heartbeat may already have passed.
        Assert.InRange(b.Router.InvalidDeliveries(a.Id, "v"), 0.9, 1.0);
        Assert.False(subB.Messages.TryRead(out _));

        a.Router.AddValidator("w", _ => ValidationResult.Reject);
        await Assert.ThrowsAsync<InvalidOperationException>(() => a.Router.PublishAsync("w", Text("x"), Ct));
    }

    [Fact(Timeout = 30_000)]
    public async Task Disconnect_PeerLeavesTopicsAndMesh()
    {
        await using PubsubNode a = await PubsubNode.StartAsync();
        PubsubNode b = await PubsubNode.StartAsync();
        await using PubsubSubscription subA = a.Router.Subscribe("t");
        await using PubsubSubscription subB = b.Router.Subscribe("t");
        await a.ConnectAsync(b);
        await TestHosts.WaitUntilAsync(() => a.Router.MeshPeers("t").Count == 1, "mesh");
        await b.DisposeAsync();
        await TestHosts.WaitUntilAsync(() => a.Router.Peers.Count == 0 && a.Router.TopicPeers("t").Count == 0
            && a.Router.MeshPeers("t").Count == 0, "a forgets b");
    }

    [Fact(Timeout = 30_000)]
    public async Task SecondInboundStream_ReplacesTheFirst()
    {
        await using PubsubNode a = await PubsubNode.StartAsync();
        await using PubsubSubscription sub = a.Router.Subscribe("t");
        await using BadPeer bad = await BadPeer.ConnectAsync(a);
        await bad.SubscribeAsync("t");
        await PubsubWait.ProcessedAsync(a.Router, bad.Id, 1);
        P2PStream first = bad.Stream;
        P2PStream second = await bad.OpenStreamAsync(a);
        // The first is reset by the router: writing to it eventually fails, reading ends.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using CancellationTokenSource bound = new(TimeSpan.FromSeconds(10));
            while (true)
            {
                System.IO.Pipelines.ReadResult r = await first.Input.ReadAsync(bound.Token);
                first.Input.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted)
                    throw new EndOfStreamException();
            }
        });
        await bad.SendAsync(BadPeer.Publish(bad.Sign("t", "via the second stream", 1)), second);
        Assert.Equal("via the second stream", Text(await PubsubWait.NextAsync(sub)));
        Assert.Contains(bad.Id, a.Router.TopicPeers("t"));
    }

    [Fact(Timeout = 30_000)]
    public async Task FloodsubPeer_GetsEveryMessageOfItsTopics()
    {
        await using PubsubNode a = await PubsubNode.StartAsync();
        await using PubsubSubscription sub = a.Router.Subscribe("t");
        await using BadPeer flood = await BadPeer.ConnectAsync(a, PubsubRouter.FloodsubProtocol);
        Assert.Equal(PubsubRouter.FloodsubProtocol, a.Router.GetPeer(flood.Id)!.Protocol);
        await flood.SubscribeAsync("t");
        await PubsubWait.ProcessedAsync(a.Router, flood.Id, 1);
        await a.Router.PublishAsync("t", Text("to floodsub"), Ct);
        await TestHosts.WaitUntilAsync(() => flood.Received.Any(r => r.Publish.Count > 0), "the floodsub peer got the message");
        Assert.DoesNotContain(flood.Id, a.Router.MeshPeers("t"));
        Assert.DoesNotContain(flood.Received, r => r.Control is not null);
    }
}
