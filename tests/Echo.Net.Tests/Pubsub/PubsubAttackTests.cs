using System.Security.Cryptography;
using System.Text;
using Echo.Net.Identity;
using Echo.Net.Pubsub;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Wire = Echo.Net.Pubsub.Pb;

namespace Echo.Net.Tests.Pubsub;

/// <summary>
/// The gossipsub rules of docs/LIMITS.md (G-1..G-8, G-12): a raw peer writes hand-made RPCs to a
/// router whose clock is a <see cref="FakeTimeProvider"/>, so heartbeats happen only when a test says.
/// </summary>
public class PubsubAttackTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Default parameters (1 s heartbeat), driven by a fake clock.</summary>
    private static readonly PubsubOptions Defaults = new();

    private static string Text(PubsubMessage m) => Encoding.UTF8.GetString(m.Data.Span);

    private static Wire.ControlMessage Graft(string topic) => new() { Graft = { new Wire.ControlGraft { TopicID = topic } } };

    private static Wire.ControlMessage Prune(string topic, ulong? backoff = null, IEnumerable<Wire.PeerInfo>? px = null)
    {
        Wire.ControlPrune prune = new() { TopicID = topic };
        if (backoff is { } b)
            prune.Backoff = b;
        if (px is not null)
            prune.Peers.AddRange(px);
        return new Wire.ControlMessage { Prune = { prune } };
    }

    /// <summary>Completes when the stream's input ends or fails (the router reset it); bounded by 10 s.</summary>
    internal static async Task StreamEndsAsync(Echo.Net.Host.P2PStream stream)
    {
        using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        bound.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            while (true)
            {
                System.IO.Pipelines.ReadResult result = await stream.Input.ReadAsync(bound.Token);
                stream.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                    return;
            }
        }
        catch (IOException)
        {
        }
    }

    // ------------------------------------------------------------------------------------------ G-1

    /// <summary>Every kind of forgery of a message authored by <paramref name="author"/>; Counted = it names the subscribed topic.</summary>
    private static IEnumerable<(Wire.Message Message, bool Counted)> Forgeries(KeyPair author, KeyPair other, int count, Random random)
    {
        for (int i = 0; i < count; i++)
        {
            ulong seqno = (ulong)i + 1;
            byte[] data = new byte[16 + random.Next(48)];
            random.NextBytes(data);
            Wire.Message pb = PubsubMessage.Sign(author, "t", data, seqno, includeKey: i % 2 == 0).ToPb();
            byte[] Flip(ByteString bytes)
            {
                byte[] b = bytes.ToByteArray();
                b[random.Next(b.Length)] ^= (byte)(1 << random.Next(8));
                return b;
            }
            bool counted = true;
            switch (i % 14)
            {
                case 0: pb.Data = ByteString.CopyFrom(Flip(pb.Data)); break;
                case 1:                                         // signed for another topic, sent as "t"
                    pb = PubsubMessage.Sign(author, "t-other", data, seqno, includeKey: false).ToPb();
                    pb.Topic = "t";
                    break;
                case 2: pb.Seqno = ByteString.CopyFrom(Flip(pb.Seqno)); break;
                case 3: pb.From = ByteString.CopyFrom(Flip(pb.From)); pb.ClearKey(); break;
                case 4: pb.Signature = ByteString.CopyFrom(Flip(pb.Signature)); break;
                case 5: pb.Key = ByteString.CopyFrom(Flip(ByteString.CopyFrom(author.PublicKey.ToProtobuf()))); break;
                case 6: pb.Key = ByteString.CopyFrom(other.PublicKey.ToProtobuf()); break;
                case 7:                                         // from and key of another peer, signed by the author
                    pb.From = ByteString.CopyFrom(other.PeerId.Bytes);
                    pb.Key = ByteString.CopyFrom(other.PublicKey.ToProtobuf());
                    break;
                case 8: pb.ClearFrom(); break;
                case 9: pb.ClearSeqno(); break;
                case 10: pb.ClearSignature(); break;
                case 11: pb.Seqno = ByteString.CopyFrom(pb.Seqno.Span[..7]); break;
                case 12: pb.ClearSignature(); pb.ClearKey(); pb.ClearFrom(); pb.ClearSeqno(); break;   // StrictNoSign form
                default: pb.ClearTopic(); counted = false; break;                                        // no topic: ignored
            }
            yield return (pb, counted);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task G1_TenThousandForgeries_NoneDeliveredNorForwarded_EachCountedAgainstTheSender()
    {
        FakeTimeProvider time = new();
        // A P4 weight this small keeps the forger above the graylist, so every forgery is looked at and counted.
        PubsubOptions options = Defaults with { Score = new PeerScoreOptions { InvalidMessageDeliveriesWeight = -1e-12 } };
        await using PubsubNode r = await PubsubNode.StartAsync(options, time);
        await using PubsubNode h1 = await PubsubNode.StartAsync();
        await using PubsubNode h2 = await PubsubNode.StartAsync();
        await using PubsubSubscription subR = r.Router.Subscribe("t");
        await using PubsubSubscription sub1 = h1.Router.Subscribe("t");
        await using PubsubSubscription sub2 = h2.Router.Subscribe("t");
        await h1.ConnectAsync(r);
        await h2.ConnectAsync(r);
        await TestHosts.WaitUntilAsync(() => r.Router.MeshPeers("t").Count == 2, "h1 and h2 grafted r");
        await using BadPeer bad = await BadPeer.ConnectAsync(r);
        await bad.SendAsync(new Wire.RPC { Subscriptions = { new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = "t" } }, Control = Graft("t") });
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 1);
        Assert.Contains(bad.Id, r.Router.MeshPeers("t"));

        using KeyPair other = KeyPair.Generate();
        List<(Wire.Message Message, bool Counted)> forgeries = [.. Forgeries(bad.Key, other, 10_000, new Random(1))];
        int rpcs = 0;
        foreach ((Wire.Message, bool)[] batch in forgeries.Chunk(100))
        {
            await bad.SendAsync(BadPeer.Publish([.. batch.Select(f => f.Item1)]));
            rpcs++;
        }
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 1 + rpcs);

        int counted = forgeries.Count(f => f.Counted);
        Assert.Equal(0, r.Router.Counters.Delivered);
        Assert.Equal(0, r.Router.Counters.Forwarded);
        Assert.Equal(0, r.Router.GetPeer(h1.Id)!.MessagesSent);
        Assert.Equal(0, r.Router.GetPeer(h2.Id)!.MessagesSent);
        Assert.Equal(counted, r.Router.InvalidDeliveries(bad.Id, "t"));
        Assert.Equal(counted, r.Router.GetPeer(bad.Id)!.InvalidMessages);
        Assert.Equal(0, r.Router.GetPeer(bad.Id)!.RpcsIgnored);

        // The same pipe carries a genuine message through, so the zeros above are not for want of a path.
        await bad.SendAsync(BadPeer.Publish(bad.Sign("t", "genuine", 1)));
        Assert.Equal("genuine", Text(await PubsubWait.NextAsync(sub1)));
        Assert.Equal("genuine", Text(await PubsubWait.NextAsync(sub2)));
        Assert.Equal("genuine", Text(await PubsubWait.NextAsync(subR)));
        Assert.False(subR.Messages.TryRead(out _));
        Assert.Equal(0, h1.Router.Counters.InvalidMessages);
    }

    [Fact(Timeout = 30_000)]
    public async Task G1_ForgerWithDefaultScores_IsGraylistedAfterThreeAndThenIgnored()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Defaults, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        await using BadPeer bad = await BadPeer.ConnectAsync(r);
        await bad.SubscribeAsync("t");
        for (int i = 1; i <= 3; i++)
        {
            Wire.Message forged = bad.Sign("t", "x", (ulong)i);
            forged.Data = ByteString.CopyFromUtf8("y");
            await bad.SendAsync(BadPeer.Publish(forged));
        }
        await bad.SendAsync(BadPeer.Publish(bad.Sign("t", "valid but too late", 10)));
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 5);
        Assert.Equal(3, r.Router.InvalidDeliveries(bad.Id, "t"));
        Assert.Equal(-90, r.Router.Score(bad.Id), 6);                 // -10 * 3², below the -80 graylist threshold
        Assert.Equal(1, r.Router.GetPeer(bad.Id)!.RpcsIgnored);
        Assert.False(sub.Messages.TryRead(out _));
    }

    // ------------------------------------------------------------------------------------------ G-2

    [Fact(Timeout = 30_000)]
    public async Task G2_FrameOverOneMiB_StreamResetOnItsPrefix_ConnectionAndRouterCarryOn()
    {
        await using PubsubNode r = await PubsubNode.StartAsync();
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        await using BadPeer bad = await BadPeer.ConnectAsync(r);
        await bad.SubscribeAsync("t");
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 1);

        // Announce 1 MiB + 1 and send a little: the router refuses on the prefix and resets the stream.
        await bad.SendRawAsync([.. Echo.Net.Framing.Varint.Encode(PubsubRpcCodec.MaxRpcSize + 1), .. new byte[100]]);
        await StreamEndsAsync(bad.Stream);
        Assert.Equal(1, r.Router.GetPeer(bad.Id)!.RpcsReceived);

        // A fresh stream on the same connection works, and a message just under the limit is accepted.
        Echo.Net.Host.P2PStream again = await bad.OpenStreamAsync(r);
        byte[] big = RandomNumberGenerator.GetBytes(PubsubRpcCodec.MaxRpcSize - 1024);
        Wire.Message message = PubsubMessage.Sign(bad.Key, "t", big, 1, includeKey: false).ToPb();
        await bad.SendAsync(BadPeer.Publish(message), again);
        PubsubMessage got = await PubsubWait.NextAsync(sub);
        Assert.Equal(big.Length, got.Data.Length);
    }

    // ------------------------------------------------------------------------------------------ G-3

    [Fact(Timeout = 60_000)]
    public async Task G3_SameMessageFromSixPeers_DeliveredOnce_UntilTheSeenCacheExpires()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Defaults, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        List<BadPeer> peers = [];
        try
        {
            for (int i = 0; i < 6; i++)
            {
                BadPeer peer = await BadPeer.ConnectAsync(r);
                peers.Add(peer);
                await peer.SendAsync(new Wire.RPC { Subscriptions = { new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = "t" } }, Control = Graft("t") });
            }
            foreach (BadPeer peer in peers)
                await PubsubWait.ProcessedAsync(r.Router, peer.Id, 1);
            Assert.Equal(6, r.Router.MeshPeers("t").Count);
            using KeyPair author = KeyPair.Generate();
            Wire.Message message = peers[0].Sign("t", "once", 77, author);
            foreach (BadPeer peer in peers)
                await peer.SendAsync(BadPeer.Publish(message));
            foreach (BadPeer peer in peers)
                await PubsubWait.ProcessedAsync(r.Router, peer.Id, 2);
            Assert.Equal("once", Text(await PubsubWait.NextAsync(sub)));
            Assert.False(sub.Messages.TryRead(out _));
            Assert.Equal(5, r.Router.Counters.Duplicates);
            Assert.Equal(1, r.Router.Counters.Delivered);
            // Forwarded once to each mesh peer except whichever copy arrived first.
            long[] sent = [.. peers.Select(p => r.Router.GetPeer(p.Id)!.MessagesSent)];
            Assert.Equal(5, sent.Sum());
            Assert.Single(sent, 0L);

            time.Advance(TimeSpan.FromSeconds(119));
            await peers[1].SendAsync(BadPeer.Publish(message));
            await PubsubWait.ProcessedAsync(r.Router, peers[1].Id, 3);
            Assert.False(sub.Messages.TryRead(out _));
            // Past the 120 s seen cache the router delivers it again: dedupe beyond that is the store's job.
            time.Advance(TimeSpan.FromSeconds(2));
            await peers[2].SendAsync(BadPeer.Publish(message));
            Assert.Equal("once", Text(await PubsubWait.NextAsync(sub)));
        }
        finally
        {
            foreach (BadPeer peer in peers)
                await peer.DisposeAsync();
        }
    }

    // ------------------------------------------------------------------------------------------ G-4

    private static Wire.RPC IHave(string topic, int ids, Random random)
    {
        Wire.ControlIHave ihave = new() { TopicID = topic };
        for (int i = 0; i < ids; i++)
        {
            byte[] id = new byte[40];
            random.NextBytes(id);
            ihave.MessageIDs.Add(ByteString.CopyFrom(id));
        }
        return BadPeer.Control(new Wire.ControlMessage { Ihave = { ihave } });
    }

    [Fact(Timeout = 60_000)]
    public async Task G4_IHaveFlood_OneIWantOf5000IdsPerHeartbeat_BrokenPromisesPenalised()
    {
        FakeTimeProvider time = new();
        // Large enough a control budget that 5000-id IHAVEs are decoded at all (the default skips them).
        PubsubOptions options = Defaults with { MaxControlBytes = PubsubOptions.MaxControlBytesLimit };
        await using PubsubNode r = await PubsubNode.StartAsync(options, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        await using BadPeer bad = await BadPeer.ConnectAsync(r);
        await bad.SubscribeAsync("t");
        Random random = new(4);
        long sent = 1;
        for (int round = 1; round <= 2; round++)
        {
            for (int i = 0; i < 100; i++)
            {
                await bad.SendAsync(IHave("t", 5000, random));
                sent++;
            }
            await PubsubWait.ProcessedAsync(r.Router, bad.Id, sent);
            Assert.Equal(round, r.Router.Counters.IWantSent);
            time.Advance(options.HeartbeatInterval);                // a heartbeat resets the per-peer counters
        }
        await TestHosts.WaitUntilAsync(() => bad.Received.Count(x => x.Control?.Iwant.Count > 0) == 2, "two IWANTs arrived");
        Assert.All(bad.Received.Where(x => x.Control?.Iwant.Count > 0), x => Assert.Equal(5000, x.Control.Iwant.Sum(w => w.MessageIDs.Count)));
        Assert.Equal(2, r.Router.PromiseCount);
        Assert.Equal(0, r.Router.BehaviourPenalty(bad.Id));
        time.Advance(TimeSpan.FromSeconds(4));                      // the 3 s follow-up passes unanswered (+ heartbeat granularity)
        Assert.Equal(2, r.Router.Counters.BrokenPromises);
        Assert.True(r.Router.BehaviourPenalty(bad.Id) > 0);
        Assert.True(r.Router.Score(bad.Id) < 0);
    }

    [Fact(Timeout = 30_000)]
    public async Task G4_IHaveOverTheControlBudget_SkippedUndecoded()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Defaults, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        await using BadPeer bad = await BadPeer.ConnectAsync(r);
        await bad.SubscribeAsync("t");
        Random random = new(5);
        for (int i = 0; i < 20; i++)
            await bad.SendAsync(IHave("t", 5000, random));              // ~210 KB control sections
        await bad.SendAsync(IHave("t", 100, random));                   // ~4 KB: decoded
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 22);
        Assert.Equal(1, r.Router.Counters.IWantSent);
        await TestHosts.WaitUntilAsync(() => bad.Received.Any(x => x.Control?.Iwant.Count > 0), "the IWANT arrived");
        Assert.Equal(100, bad.Received.Single(x => x.Control?.Iwant.Count > 0).Control.Iwant[0].MessageIDs.Count);
    }

    // ------------------------------------------------------------------------------------------ G-5

    [Fact(Timeout = 30_000)]
    public async Task G5_IWantLoop_OneCopyPlusThreeThenIgnored()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Defaults, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        await using BadPeer bad = await BadPeer.ConnectAsync(r);
        await bad.SubscribeAsync("t");
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 1);
        PubsubMessage published = await r.Router.PublishAsync("t", "wanted"u8.ToArray(), Ct);
        Assert.Equal(1, r.Router.GetPeer(bad.Id)!.MessagesSent);
        for (int i = 0; i < 10; i++)
            await bad.SendAsync(BadPeer.Control(new Wire.ControlMessage { Iwant = { new Wire.ControlIWant { MessageIDs = { ByteString.CopyFrom(published.Id.Span) } } } }));
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 11);
        Assert.Equal(4, r.Router.GetPeer(bad.Id)!.MessagesSent);
        await TestHosts.WaitUntilAsync(() => bad.Received.Sum(x => x.Publish.Count) == 4, "four copies arrived");
        Assert.All(bad.Received.SelectMany(x => x.Publish), m => Assert.Equal("wanted", m.Data.ToStringUtf8()));
    }

    [Theory(Timeout = 30_000)]
    [InlineData(4999, 1)]
    [InlineData(5000, 0)]
    public async Task G5_IWantIdsPastTheLimit_AreNotLookedAt(int bogusIdsFirst, int answered)
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Defaults with { MaxControlBytes = PubsubOptions.MaxControlBytesLimit }, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        await using BadPeer bad = await BadPeer.ConnectAsync(r);
        PubsubMessage published = await r.Router.PublishAsync("t", "wanted"u8.ToArray(), Ct);
        Wire.ControlIWant iwant = new();
        for (int i = 0; i < bogusIdsFirst; i++)
            iwant.MessageIDs.Add(ByteString.CopyFrom(BitConverter.GetBytes(i)));
        iwant.MessageIDs.Add(ByteString.CopyFrom(published.Id.Span));
        await bad.SendAsync(BadPeer.Control(new Wire.ControlMessage { Iwant = { iwant } }));
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 1);
        Assert.Equal(answered, r.Router.GetPeer(bad.Id)!.MessagesSent);
    }

    // ------------------------------------------------------------------------------------------ G-6

    [Fact(Timeout = 30_000)]
    public async Task G6_GraftUnknownTopic_NoReply()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Defaults, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        await using BadPeer bad = await BadPeer.ConnectAsync(r);
        long queued = r.Router.GetPeer(bad.Id)!.RpcsQueued;
        for (int i = 0; i < 50; i++)
            await bad.SendAsync(BadPeer.Control(Graft("unknown-" + i)));
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 50);
        Assert.Equal(queued, r.Router.GetPeer(bad.Id)!.RpcsQueued);
        Assert.Empty(r.Router.MeshPeers("unknown-0"));
        Assert.Equal(0, r.Router.BehaviourPenalty(bad.Id));
    }

    [Fact(Timeout = 30_000)]
    public async Task G6_GraftDuringBackoff_PenalisedAndPruned_RepeatsGraylist()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Defaults, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        await using BadPeer bad = await BadPeer.ConnectAsync(r);
        await bad.SendAsync(new Wire.RPC { Subscriptions = { new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = "t" } }, Control = Graft("t") });
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 1);
        Assert.Contains(bad.Id, r.Router.MeshPeers("t"));

        await bad.SendAsync(BadPeer.Control(Prune("t", 60)));
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 2);
        Assert.DoesNotContain(bad.Id, r.Router.MeshPeers("t"));
        Assert.True(r.Router.IsBackedOff(bad.Id, "t"));

        // 11 s later (past the 10 s graft-flood threshold): one penalty and a PRUNE back.
        time.Advance(TimeSpan.FromSeconds(11));
        long queued = r.Router.GetPeer(bad.Id)!.RpcsQueued;
        await bad.SendAsync(BadPeer.Control(Graft("t")));
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 3);
        Assert.DoesNotContain(bad.Id, r.Router.MeshPeers("t"));
        Assert.Equal(queued + 1, r.Router.GetPeer(bad.Id)!.RpcsQueued);
        await TestHosts.WaitUntilAsync(() => bad.Received.Any(x => x.Control?.Prune.Count > 0), "the PRUNE arrived");
        Wire.ControlPrune reply = bad.Received.Last(x => x.Control?.Prune.Count > 0).Control.Prune[0];
        Assert.Equal("t", reply.TopicID);
        Assert.Equal(60UL, reply.Backoff);
        double afterOne = r.Router.BehaviourPenalty(bad.Id);
        Assert.True(afterOne is > 0.5 and <= 1, $"penalty {afterOne}");

        // Right away again (within the flood threshold of the renewed backoff): two more each time.
        await bad.SendAsync(BadPeer.Control(Graft("t")));
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 4);
        Assert.Equal(afterOne + 2, r.Router.BehaviourPenalty(bad.Id), 6);
        Assert.True(r.Router.Score(bad.Id) < Defaults.Score.GraylistThreshold);
        await bad.SendAsync(BadPeer.Control(Graft("t")));
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 5);
        Assert.Equal(1, r.Router.GetPeer(bad.Id)!.RpcsIgnored);
        Assert.DoesNotContain(bad.Id, r.Router.MeshPeers("t"));
    }

    // ------------------------------------------------------------------------------------------ G-7

    [Fact(Timeout = 30_000)]
    public async Task G7_PruneWithExtremeBackoffs_NoOverflow_HeartbeatsCarryOn()
    {
        FakeTimeProvider time = new();
        TestLog log = new(LogLevel.Error);
        await using PubsubNode r = await PubsubNode.StartAsync(Defaults, time, log: log);
        await using PubsubSubscription a = r.Router.Subscribe("a");
        await using PubsubSubscription b = r.Router.Subscribe("b");
        await using PubsubSubscription c = r.Router.Subscribe("c");
        await using BadPeer bad = await BadPeer.ConnectAsync(r);
        await bad.SubscribeAsync("a", "b", "c");
        DateTimeOffset now = time.GetUtcNow();
        await bad.SendAsync(BadPeer.Control(Prune("a", ulong.MaxValue)));
        await bad.SendAsync(BadPeer.Control(Prune("b", 0)));
        await bad.SendAsync(BadPeer.Control(Prune("c", 0x8000000000000000UL)));
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 4);
        Assert.Equal(now + Defaults.MaxPruneBackoff, r.Router.BackoffUntil(bad.Id, "a"));
        Assert.Equal(now + Defaults.PruneBackoff, r.Router.BackoffUntil(bad.Id, "b"));
        Assert.Equal(now + Defaults.MaxPruneBackoff, r.Router.BackoffUntil(bad.Id, "c"));
        long before = r.Router.Counters.Heartbeats;
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(before + 5, r.Router.Counters.Heartbeats);
        Assert.Empty(log.Lines);
        Assert.DoesNotContain(bad.Id, r.Router.MeshPeers("a"));     // the heartbeat does not graft it back
    }

    /// <summary>PX entries with real peer ids (unsigned records); <paramref name="valid"/> false fills them with noise instead.</summary>
    private static IEnumerable<Wire.PeerInfo> PxPeers(int count, bool valid = true) =>
        Enumerable.Range(0, count).Select(_ =>
        {
            byte[] id;
            if (valid)
            {
                using KeyPair k = KeyPair.Generate();
                id = k.PeerId.ToBytes();
            }
            else
                id = RandomNumberGenerator.GetBytes(38);
            return new Wire.PeerInfo { PeerID = ByteString.CopyFrom(id), SignedPeerRecord = ByteString.CopyFrom(1, 2, 3) };
        });

    [Fact(Timeout = 30_000)]
    public async Task G7_PeerExchange_IgnoredBelowTheThreshold_AtMost16Used()
    {
        FakeTimeProvider time = new();
        await using PubsubNode strict = await PubsubNode.StartAsync(Defaults, time);          // accept-PX threshold 10
        await using PubsubNode open = await PubsubNode.StartAsync(Defaults with { Score = new PeerScoreOptions { AcceptPxThreshold = 0 } }, time);
        foreach (PubsubNode r in new[] { strict, open })
        {
            await using PubsubSubscription sub = r.Router.Subscribe("t");
            await using BadPeer bad = await BadPeer.ConnectAsync(r);
            await bad.SubscribeAsync("t");
            await bad.SendAsync(BadPeer.Control(Prune("t", 60, PxPeers(250))));       // ~12 KB: decoded
            await bad.SendAsync(BadPeer.Control(Prune("t", 60, PxPeers(10_000, valid: false))));    // ~440 KB: over the control budget
            await PubsubWait.ProcessedAsync(r.Router, bad.Id, 3);
        }
        Assert.Empty(strict.Router.PxCandidates);
        Assert.Equal(16, open.Router.PxCandidates.Count);
    }

    // ------------------------------------------------------------------------------------------ G-8

    [Fact(Timeout = 30_000)]
    public async Task G8_SubscriptionSpam_AtMost100TopicsKeptPerPeer()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Defaults, time);
        await using BadPeer bad = await BadPeer.ConnectAsync(r);
        Wire.RPC spam = new();
        for (int i = 0; i < 10_000; i++)
            spam.Subscriptions.Add(new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = "spam-" + i });
        await bad.SendAsync(spam);
        await bad.SubscribeAsync([.. Enumerable.Range(0, 100).Select(i => "more-" + i)]);
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 2);
        PeerSnapshot peer = r.Router.GetPeer(bad.Id)!;
        Assert.Equal(100, peer.Topics);
        Assert.Equal(10_000, peer.SubscriptionsIgnored);          // 9,900 skipped undecoded + 100 over the per-peer cap
        Assert.Contains(bad.Id, r.Router.TopicPeers("spam-99"));
        Assert.Empty(r.Router.TopicPeers("spam-100"));
        Assert.Empty(r.Router.TopicPeers("more-0"));
    }

    [Fact(Timeout = 30_000)]
    public async Task G8_ControlSectionOver16KiB_SkippedButTheRestOfTheRpcApplies()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Defaults, time);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        await using BadPeer bad = await BadPeer.ConnectAsync(r);
        Wire.RPC rpc = IHave("t", 1000, new Random(8));                  // ~42 KB of control
        rpc.Control.Graft.Add(new Wire.ControlGraft { TopicID = "t" });
        rpc.Subscriptions.Add(new Wire.RPC.Types.SubOpts { Subscribe = true, Topicid = "t" });
        await bad.SendAsync(rpc);
        await PubsubWait.ProcessedAsync(r.Router, bad.Id, 1);
        Assert.Contains(bad.Id, r.Router.TopicPeers("t"));
        Assert.DoesNotContain(bad.Id, r.Router.MeshPeers("t"));         // the GRAFT was in the skipped section
        Assert.Equal(0, r.Router.Counters.IWantSent);
    }

    // ------------------------------------------------------------------------------------------ G-12

    [Fact(Timeout = 30_000)]
    public async Task G12_FloodPublish_SkipsPeersBelowThePublishThreshold()
    {
        FakeTimeProvider time = new();
        await using PubsubNode r = await PubsubNode.StartAsync(Defaults, time);
        await using BadPeer twice = await BadPeer.ConnectAsync(r);
        await using BadPeer thrice = await BadPeer.ConnectAsync(r);
        await using PubsubSubscription sub = r.Router.Subscribe("t");
        foreach ((BadPeer peer, int forgeries) in new[] { (twice, 2), (thrice, 3) })
        {
            await peer.SubscribeAsync("t");
            for (int i = 1; i <= forgeries; i++)
            {
                Wire.Message forged = peer.Sign("t", "x", (ulong)i);
                forged.Data = ByteString.CopyFromUtf8("y");
                await peer.SendAsync(BadPeer.Publish(forged));
            }
            await PubsubWait.ProcessedAsync(r.Router, peer.Id, 1 + forgeries);
        }
        Assert.Equal(-40, r.Router.Score(twice.Id), 6);                // above the -50 publish threshold
        Assert.Equal(-90, r.Router.Score(thrice.Id), 6);               // below it
        await r.Router.PublishAsync("t", "ours"u8.ToArray(), Ct);
        Assert.Equal(1, r.Router.GetPeer(twice.Id)!.MessagesSent);
        Assert.Equal(0, r.Router.GetPeer(thrice.Id)!.MessagesSent);
    }

    [Fact(Timeout = 60_000)]
    public async Task G12_FloodPublish_ReachesEveryTopicPeerInOneHop_BeyondTheMesh()
    {
        PubsubOptions narrow = PubsubNode.Fast with { D = 2, DLo = 1, DHi = 3, DScore = 1, DOut = 0, DLazy = 2 };
        await using PubsubNode hub = await PubsubNode.StartAsync(narrow);
        await using PubsubSubscription hubSub = hub.Router.Subscribe("t");
        List<PubsubNode> spokes = [];
        List<PubsubSubscription> subs = [];
        try
        {
            for (int i = 0; i < 5; i++)
            {
                PubsubNode spoke = await PubsubNode.StartAsync();
                spokes.Add(spoke);
                subs.Add(spoke.Router.Subscribe("t"));
                await spoke.ConnectAsync(hub);
            }
            await PubsubWait.TopicPeersAsync(hub, "t", 5);
            // Let a few heartbeats settle the mesh: the hub keeps at most D_hi = 3 of its 5 peers.
            await TestHosts.WaitUntilAsync(() => hub.Router.Counters.Heartbeats > 5, "heartbeats");
            int mesh = hub.Router.MeshPeers("t").Count;
            Assert.InRange(mesh, 1, 3);
            await hub.Router.PublishAsync("t", "to all"u8.ToArray(), Ct);
            foreach (PubsubSubscription sub in subs)
            {
                PubsubMessage m = await PubsubWait.NextAsync(sub);
                Assert.Equal(hub.Id, m.ReceivedFrom);
                Assert.Equal("to all", Text(m));
            }
        }
        finally
        {
            foreach (PubsubSubscription sub in subs)
                await sub.DisposeAsync();
            foreach (PubsubNode spoke in spokes)
                await spoke.DisposeAsync();
        }
    }
}
