using System.Text;
using Echo.Net.Identity;
using Echo.Net.Pubsub;
using Google.Protobuf;
using Microsoft.Extensions.Time.Testing;
using Wire = Echo.Net.Pubsub.Pb;

namespace Echo.Net.Tests.Pubsub;

/// <summary>Heartbeat behaviour with a fake clock: mesh bounds, pruning, fanout, gossip, IDONTWANT, slow peers.</summary>
public class PubsubMeshTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly PubsubOptions Small = new() { D = 4, DLo = 3, DHi = 6, DScore = 2, DOut = 1, DLazy = 2 };

    private static async Task<List<BadPeer>> ConnectManyAsync(PubsubNode router, int count, string topic, bool graft = false,
        string protocol = PubsubRouter.MeshsubV11)
    {
        List<BadPeer> peers = [];
        for (int i = 0; i < count; i++)
        {
            BadPeer peer = await BadPeer.ConnectAsync(router, protocol);
            peers.Add(peer);
            Wire.RPC rpc = new() { Subscriptions = { new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = topic } } };
            if (graft)
                rpc.Control = new Wire.ControlMessage { Graft = { new Wire.ControlGraft { TopicID = topic } } };
            await peer.SendAsync(rpc);
        }
        foreach (BadPeer peer in peers)
            await PubsubWait.ProcessedAsync(router.Router, peer.Id, 1);
        return peers;
    }

    private static async Task DisposeAllAsync(IEnumerable<BadPeer> peers) =>
        await Task.WhenAll(peers.Select(p => p.DisposeAsync().AsTask()));

    [Fact(Timeout = 60_000)]
    public async Task Heartbeat_GraftsUpToD_AcceptsGraftsUpToDHi_RefillsWhenPeersLeave()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Small, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        List<BadPeer> peers = await ConnectManyAsync(r, 10, "t");
        try
        {
            Assert.Empty(r.Router.MeshPeers("t"));
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(Small.D, r.Router.MeshPeers("t").Count);
            foreach (BadPeer peer in peers.Where(p => r.Router.MeshPeers("t").Contains(p.Id)))
                await TestHosts.WaitUntilAsync(() => peer.Received.Any(x => x.Control?.Graft.Any(g => g.TopicID == "t") == true), "GRAFT arrived");

            // Everyone else grafts us: accepted until D_hi (they are inbound, so no more), the rest pruned.
            foreach (BadPeer peer in peers)
                await peer.SendAsync(BadPeer.Control(new Wire.ControlMessage { Graft = { new Wire.ControlGraft { TopicID = "t" } } }));
            foreach (BadPeer peer in peers)
                await PubsubWait.ProcessedAsync(r.Router, peer.Id, 2);
            Assert.Equal(Small.DHi, r.Router.MeshPeers("t").Count);
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(Small.DHi, r.Router.MeshPeers("t").Count);

            // Mesh peers unsubscribe: the next heartbeat grafts from those left, skipping backed-off ones.
            List<BadPeer> leaving = [.. peers.Where(p => r.Router.MeshPeers("t").Contains(p.Id)).Take(5)];
            foreach (BadPeer peer in leaving)
                await peer.SendAsync(new Wire.RPC { Subscriptions = { new Wire.RPC.Types.SubOpts { Subscribe = false, Topicid = "t" } } });
            foreach (BadPeer peer in leaving)
                await PubsubWait.ProcessedAsync(r.Router, peer.Id, 3);
            Assert.Single(r.Router.MeshPeers("t"));
            // The four still subscribed were pruned when they grafted a full mesh: backed off for 60 s (+1 heartbeat).
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.Single(r.Router.MeshPeers("t"));
            time.Advance(TimeSpan.FromSeconds(61));
            Assert.Equal(Small.D, r.Router.MeshPeers("t").Count);
            Assert.DoesNotContain(r.Router.MeshPeers("t"), id => leaving.Any(p => p.Id == id));
        }
        finally
        {
            await DisposeAllAsync(peers);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Heartbeat_OversubscribedMesh_ShrinksToDKeepingTheOutboundQuota()
    {
        FakeTimeProvider time = new();
        PubsubOptions options = Small with { DOut = 2 };
        await using PubsubNode r = await PubsubNode.StartAsync(options, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        List<BadPeer> inbound = await ConnectManyAsync(r, 6, "t", graft: true);
        List<BadPeer> outbound = [];
        try
        {
            // Inbound grafts fill the mesh to D_hi; outbound peers are still accepted beyond it.
            for (int i = 0; i < 2; i++)
            {
                BadPeer peer = await BadPeer.ConnectAsync(r, dialedByTarget: true);
                outbound.Add(peer);
                await peer.SendAsync(new Wire.RPC
                {
                    Subscriptions = { new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = "t" } },
                    Control = new Wire.ControlMessage { Graft = { new Wire.ControlGraft { TopicID = "t" } } },
                });
                await PubsubWait.ProcessedAsync(r.Router, peer.Id, 1);
            }
            Assert.Equal(8, r.Router.MeshPeers("t").Count);
            time.Advance(TimeSpan.FromSeconds(1));
            IReadOnlyCollection<PeerId> mesh = r.Router.MeshPeers("t");
            Assert.Equal(options.D, mesh.Count);
            Assert.All(outbound, p => Assert.Contains(p.Id, mesh));      // D_out = 2 outbound peers survive
            List<BadPeer> pruned = [.. inbound.Where(p => !mesh.Contains(p.Id))];
            Assert.Equal(4, pruned.Count);
            foreach (BadPeer peer in pruned)
            {
                Assert.True(r.Router.IsBackedOff(peer.Id, "t"));
                await TestHosts.WaitUntilAsync(() => peer.Received.Any(x => x.Control?.Prune.Any(p => p.TopicID == "t") == true), "PRUNE arrived");
            }
        }
        finally
        {
            await DisposeAllAsync([.. inbound, .. outbound]);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Heartbeat_EveryMinute_GraftsPeersScoringAboveTheMeshMedian()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Small, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        List<BadPeer> peers = await ConnectManyAsync(r, 4, "t");
        List<BadPeer> late = [];
        try
        {
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(4, r.Router.MeshPeers("t").Count);
            late = await ConnectManyAsync(r, 2, "t");
            time.Advance(TimeSpan.FromSeconds(58));                       // heartbeat 59: a full mesh, nothing to do
            Assert.Equal(4, r.Router.MeshPeers("t").Count);
            // The late peers deliver fresh messages first (P2), beating the mesh's median score (P1 only, below 20).
            foreach (BadPeer peer in late)
            {
                for (ulong seqno = 1; seqno <= 4; seqno++)
                    await peer.SendAsync(BadPeer.Publish(peer.Sign("t", "news " + seqno, seqno)));
                await PubsubWait.ProcessedAsync(r.Router, peer.Id, 5);
                Assert.True(r.Router.Score(peer.Id) > 1);
            }
            time.Advance(TimeSpan.FromSeconds(1));                        // heartbeat 60: opportunistic grafting
            Assert.All(late, p => Assert.Contains(p.Id, r.Router.MeshPeers("t")));
            Assert.Equal(6, r.Router.MeshPeers("t").Count);
        }
        finally
        {
            await DisposeAllAsync([.. peers, .. late]);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Heartbeat_NegativeScoreMeshPeer_IsPrunedWithBackoff()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Small, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        List<BadPeer> peers = await ConnectManyAsync(r, 1, "t", graft: true);
        BadPeer bad = peers[0];
        try
        {
            Assert.Contains(bad.Id, r.Router.MeshPeers("t"));
            Wire.Message forged = bad.Sign("t", "x", 1);
            forged.Data = ByteString.CopyFromUtf8("tampered");
            await bad.SendAsync(BadPeer.Publish(forged));
            await PubsubWait.ProcessedAsync(r.Router, bad.Id, 2);
            Assert.True(r.Router.Score(bad.Id) < 0);
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.DoesNotContain(bad.Id, r.Router.MeshPeers("t"));
            Assert.True(r.Router.IsBackedOff(bad.Id, "t"));
            await TestHosts.WaitUntilAsync(() => bad.Received.Any(x => x.Control?.Prune.Any(p => p.TopicID == "t" && p.Backoff == 60) == true), "PRUNE arrived");
        }
        finally
        {
            await DisposeAllAsync(peers);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Unsubscribe_PrunesTheMeshWithTheShortBackoff_AndAnnouncesIt()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Small, time);
        PubsubSubscription sub = r.Router.Subscribe("t");
        List<BadPeer> peers = await ConnectManyAsync(r, 2, "t", graft: true);
        try
        {
            Assert.Equal(2, r.Router.MeshPeers("t").Count);
            await sub.DisposeAsync();
            Assert.Empty(r.Router.MeshPeers("t"));
            foreach (BadPeer peer in peers)
            {
                await TestHosts.WaitUntilAsync(() => peer.Received.Any(x => x.Control?.Prune.Any(p => p.TopicID == "t" && p.Backoff == 10) == true)
                    && peer.Received.Any(x => x.Subscriptions.Any(s => s.Topicid == "t" && !s.Subscribe)), "PRUNE and unsubscribe arrived");
                Assert.True(r.Router.IsBackedOff(peer.Id, "t"));
            }
            // Leaving ignores later GRAFTs for the topic: unknown topics get no answer.
            long queued = r.Router.GetPeer(peers[0].Id)!.RpcsQueued;
            await peers[0].SendAsync(BadPeer.Control(new Wire.ControlMessage { Graft = { new Wire.ControlGraft { TopicID = "t" } } }));
            await PubsubWait.ProcessedAsync(r.Router, peers[0].Id, 2);
            Assert.Equal(queued, r.Router.GetPeer(peers[0].Id)!.RpcsQueued);
        }
        finally
        {
            await DisposeAllAsync(peers);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Fanout_WithoutFloodPublish_UsesUpToDPeersAndExpiresAfterItsTtl()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Small with { FloodPublish = false }, time);
        List<BadPeer> peers = await ConnectManyAsync(r, 6, "f");
        try
        {
            await r.Router.PublishAsync("f", "one"u8.ToArray(), Ct);
            IReadOnlyCollection<PeerId> fanout = r.Router.FanoutPeers("f");
            Assert.Equal(Small.D, fanout.Count);
            Assert.Equal(Small.D, peers.Sum(p => r.Router.GetPeer(p.Id)!.MessagesSent));
            await r.Router.PublishAsync("f", "two"u8.ToArray(), Ct);
            Assert.True(r.Router.FanoutPeers("f").ToHashSet().SetEquals(fanout));  // the same peers again
            time.Advance(TimeSpan.FromSeconds(30));
            Assert.Equal(Small.D, r.Router.FanoutPeers("f").Count);
            time.Advance(TimeSpan.FromSeconds(31));
            Assert.Empty(r.Router.FanoutPeers("f"));
            // Subscribing after publishing moves fanout peers into the mesh (here: fanout expired, so from topic peers).
            await using PubsubSubscription sub = r.Router.Subscribe("f");
            Assert.Equal(Small.D, r.Router.MeshPeers("f").Count);
        }
        finally
        {
            await DisposeAllAsync(peers);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Gossip_IHaveGoesToNonMeshPeers_AndTheirIWantIsAnswered()
    {
        FakeTimeProvider time = new();
        PubsubOptions options = Small with { D = 1, DLo = 1, DHi = 1, DScore = 1, DOut = 0, DLazy = 2, FloodPublish = false };
        await using PubsubNode r = await PubsubNode.StartAsync(options, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        List<BadPeer> peers = await ConnectManyAsync(r, 3, "t");
        try
        {
            time.Advance(TimeSpan.FromSeconds(1));
            PeerId meshPeer = Assert.Single(r.Router.MeshPeers("t"));
            PubsubMessage m = await r.Router.PublishAsync("t", "gossiped"u8.ToArray(), Ct);
            time.Advance(TimeSpan.FromSeconds(1));
            foreach (BadPeer peer in peers.Where(p => p.Id != meshPeer))
            {
                await TestHosts.WaitUntilAsync(() => peer.Received.Any(x => x.Control?.Ihave.Any(i => i.MessageIDs.Contains(ByteString.CopyFrom(m.Id.Span))) == true),
                    "IHAVE arrived");
                Assert.Equal(0, r.Router.GetPeer(peer.Id)!.MessagesSent);
                await peer.SendAsync(BadPeer.Control(new Wire.ControlMessage { Iwant = { new Wire.ControlIWant { MessageIDs = { ByteString.CopyFrom(m.Id.Span) } } } }));
                await TestHosts.WaitUntilAsync(() => peer.Received.Any(x => x.Publish.Any(p => p.Data.ToStringUtf8() == "gossiped")), "IWANT answered");
            }
            BadPeer inMesh = peers.Single(p => p.Id == meshPeer);
            Assert.DoesNotContain(inMesh.Received, x => x.Control?.Ihave.Count > 0);
        }
        finally
        {
            await DisposeAllAsync(peers);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task AMessageForwardedWhileAPeerWasOutsideTheMesh_IsOfferedToItWhenItIsGrafted()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Small, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        List<BadPeer> peers = await ConnectManyAsync(r, 2, "t");
        try
        {
            // Subscribed, but no heartbeat yet: the mesh is empty and the author's message reaches no one.
            Assert.Empty(r.Router.MeshPeers("t"));
            BadPeer author = peers[0], late = peers[1];
            Wire.Message sent = author.Sign("t", "forwarded before the graft", 1);
            await author.SendAsync(BadPeer.Publish(sent));
            Assert.Equal("forwarded before the graft", Encoding.UTF8.GetString((await PubsubWait.NextAsync(sub)).Data.Span));
            Assert.DoesNotContain(late.Received, x => x.Publish.Count > 0);

            // The heartbeat grafts both; the one that missed it is offered the message with its GRAFT.
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.Contains(late.Id, r.Router.MeshPeers("t"));
            byte[] id = [.. sent.From.ToByteArray(), .. sent.Seqno.ToByteArray()];     // from || seqno
            await TestHosts.WaitUntilAsync(() => late.Received.Any(x => x.Control?.Ihave.Any(i => i.MessageIDs.Contains(ByteString.CopyFrom(id))) == true),
                "IHAVE with the graft");
        }
        finally
        {
            await DisposeAllAsync(peers);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task IDontWant_HonouredForThatMessage_AndSentToV12MeshPeersForLargeOnes()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Small, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        List<BadPeer> peers = await ConnectManyAsync(r, 3, "t", graft: true, protocol: PubsubRouter.MeshsubV12);
        BadPeer publisher = peers[0], declining = peers[1], other = peers[2];
        try
        {
            Assert.Equal(3, r.Router.MeshPeers("t").Count);
            using KeyPair author = KeyPair.Generate();
            Wire.Message small = publisher.Sign("t", "small", 1, author);
            Wire.Message big = publisher.Sign("t", new string('x', 2048), 2, author);
            byte[] smallId = [.. small.From.Span, .. small.Seqno.Span];
            await declining.SendAsync(BadPeer.Control(new Wire.ControlMessage { Idontwant = { new Wire.ControlIDontWant { MessageIDs = { ByteString.CopyFrom(smallId) } } } }));
            await PubsubWait.ProcessedAsync(r.Router, declining.Id, 2);
            Assert.Equal(1, r.Router.GetPeer(declining.Id)!.DontSendCount);

            await publisher.SendAsync(BadPeer.Publish(small));
            await publisher.SendAsync(BadPeer.Publish(big));
            await PubsubWait.ProcessedAsync(r.Router, publisher.Id, 3);
            Assert.Equal(1, r.Router.GetPeer(declining.Id)!.MessagesSent);       // the big one only
            Assert.Equal(2, r.Router.GetPeer(other.Id)!.MessagesSent);
            Assert.Equal(0, r.Router.GetPeer(publisher.Id)!.MessagesSent);

            // For the 2 KiB message the mesh peers other than its sender hear IDONTWANT first.
            byte[] bigId = [.. big.From.Span, .. big.Seqno.Span];
            foreach (BadPeer peer in new[] { declining, other })
            {
                await TestHosts.WaitUntilAsync(() => peer.Received.Any(x => x.Control?.Idontwant.Any(i => i.MessageIDs.Contains(ByteString.CopyFrom(bigId))) == true),
                    "IDONTWANT arrived");
                Assert.DoesNotContain(peer.Received, x => x.Control?.Idontwant.Any(i => i.MessageIDs.Contains(ByteString.CopyFrom(smallId))) == true);
            }
            Assert.DoesNotContain(publisher.Received, x => x.Control?.Idontwant.Count > 0);

            // Entries are forgotten after three heartbeats.
            time.Advance(TimeSpan.FromSeconds(4));
            Assert.Equal(0, r.Router.GetPeer(declining.Id)!.DontSendCount);
        }
        finally
        {
            await DisposeAllAsync(peers);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task PublishBackToBack_QueueFillsFasterThanThePeerVerifies_PublisherWaitsAndNothingIsLost()
    {
        // Signing is faster than verifying: with a 16-RPC queue the publisher outruns its peer at once.
        const int count = 5_000;
        await using PubsubNode publisher = await PubsubNode.StartAsync(PubsubNode.Fast with { MaxOutboundQueueLength = 16 });
        await using PubsubNode subscriber = await PubsubNode.StartAsync(PubsubNode.Fast with { SubscriptionCapacity = count });
        await using PubsubSubscription sub = subscriber.Router.Subscribe("t");
        await subscriber.ConnectAsync(publisher);
        await PubsubWait.TopicPeersAsync(publisher, "t", 1);
        for (int i = 0; i < count; i++)
            await publisher.Router.PublishAsync("t", BitConverter.GetBytes(i), Ct);
        for (int i = 0; i < count; i++)
            Assert.Equal(i, BitConverter.ToInt32((await PubsubWait.NextAsync(sub)).Data.Span));
        Assert.Equal(0, publisher.Router.GetPeer(subscriber.Id)!.RpcsDropped);
    }

    [Fact(Timeout = 60_000)]
    public async Task ASubscriberThatLags_SlowsThePeersThatSend_AndLosesNothing()
    {
        const int capacity = 16, count = 300;
        await using PubsubNode publisher = await PubsubNode.StartAsync(PubsubNode.Fast with { MaxPublishWait = TimeSpan.FromSeconds(30) });
        await using PubsubNode subscriber = await PubsubNode.StartAsync(PubsubNode.Fast with { SubscriptionCapacity = capacity });
        await using PubsubSubscription sub = subscriber.Router.Subscribe("t");
        await subscriber.ConnectAsync(publisher);
        await PubsubWait.TopicPeersAsync(publisher, "t", 1);

        // Nobody reads: the subscriber takes a capacity's worth, then leaves the rest in the stream.
        for (int i = 0; i < count; i++)
            await publisher.Router.PublishAsync("t", BitConverter.GetBytes(i), Ct);
        await TestHosts.WaitUntilAsync(() => sub.Waiting >= capacity, "the subscription filled");
        Assert.InRange(sub.Waiting, capacity, 2 * capacity);

        for (int i = 0; i < count; i++)
            Assert.Equal(i, BitConverter.ToInt32((await PubsubWait.NextAsync(sub)).Data.Span));
        Assert.Equal(0, publisher.Router.GetPeer(subscriber.Id)!.RpcsDropped);
    }

    [Fact(Timeout = 60_000)]
    public async Task SlowPeer_QueueStaysBounded_OthersStillGetEverything()
    {
        PubsubOptions options = PubsubNode.Fast with { MaxOutboundQueueBytes = 1 << 20 };
        await using PubsubNode r = await PubsubNode.StartAsync(options);
        await using PubsubNode fast = await PubsubNode.StartAsync();
        await using PubsubSubscription subFast = fast.Router.Subscribe("t");
        await using BadPeer slow = await BadPeer.ConnectAsync(r, read: false);
        await slow.SubscribeAsync("t");
        await fast.ConnectAsync(r);
        await PubsubWait.TopicPeersAsync(r, "t", 2);
        // The reading peer keeps up (each message arrives before the next is published); the other never reads.
        byte[] payload = new byte[16 * 1024];
        for (int i = 0; i < 300; i++)
        {
            payload[0] = (byte)i;
            await r.Router.PublishAsync("t", payload, Ct);
            Assert.Equal((byte)i, (await PubsubWait.NextAsync(subFast)).Data.Span[0]);
        }
        PeerSnapshot stuck = r.Router.GetPeer(slow.Id)!;
        Assert.True(stuck.RpcsDropped > 0, "nothing was dropped for the peer that never reads");
        // Publishing waited MaxPublishWait for the stuck peer once, then no more: the rest were dropped at once.
        Assert.Equal(1, r.Router.Counters.PublishWaitsExpired);
        Assert.InRange(stuck.QueuedBytes, 0, options.MaxOutboundQueueBytes);
        Assert.Equal(0, r.Router.GetPeer(fast.Id)!.RpcsDropped);
    }
}
