using Echo.Net.Identity;
using Echo.Net.Pubsub;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Pubsub;

/// <summary>The router's pure parts: peer scores, the message cache and the seen cache.</summary>
public class PubsubStateTests
{
    private static readonly PeerId A = KeyPair.Generate().PeerId;
    private static readonly PeerId B = KeyPair.Generate().PeerId;

    [Fact]
    public void Score_TimeInMesh_GrowsPerQuantumUpToItsCap()
    {
        FakeTimeProvider time = new();
        PeerScore score = new(new PeerScoreOptions(), time);
        score.AddPeer(A);
        score.Graft(A, "t");
        Assert.Equal(0, score.Score(A), 9);
        time.Advance(TimeSpan.FromSeconds(100));
        Assert.Equal(1.0, score.Score(A), 9);                  // 0.01 per second
        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(3.0, score.Score(A), 9);                  // capped at 300 quanta
        score.Prune(A, "t");
        Assert.Equal(0, score.Score(A), 9);
    }

    [Fact]
    public void Score_FirstDeliveries_CappedAndDecaying()
    {
        PeerScore score = new(new PeerScoreOptions(), new FakeTimeProvider());
        score.AddPeer(A);
        for (int i = 0; i < 50; i++)
            score.FirstDelivery(A, "t");
        Assert.Equal(5.0, score.Score(A), 9);                  // cap 10 × weight 0.5
        score.Decay();
        Assert.Equal(4.5, score.Score(A), 9);
        for (int i = 0; i < 200; i++)
            score.Decay();
        Assert.Equal(0, score.Score(A));                       // below DecayToZero becomes 0
    }

    [Fact]
    public void Score_InvalidMessagesAndBehaviourPenalty_AreSquared()
    {
        PeerScore score = new(new PeerScoreOptions(), new FakeTimeProvider());
        score.AddPeer(A);
        score.InvalidDelivery(A, "t");
        score.InvalidDelivery(A, "t");
        Assert.Equal(-40, score.Score(A), 9);
        score.AddPenalty(A, 3);
        Assert.Equal(-40 - 90, score.Score(A), 9);
        score.InvalidDelivery(B, "t");                         // unknown peers are not tracked
        Assert.Equal(0, score.Score(B));
    }

    [Fact]
    public void Score_PositiveTopicScore_IsCappedButPenaltiesAreNot()
    {
        PeerScore score = new(new PeerScoreOptions { TopicScoreCap = 2 }, new FakeTimeProvider());
        score.AddPeer(A);
        for (int i = 0; i < 10; i++)
        {
            score.FirstDelivery(A, "t" + i);
            score.FirstDelivery(A, "t" + i);
        }
        Assert.Equal(2, score.Score(A), 9);
        score.AddPenalty(A, 1);
        Assert.Equal(2 - 10, score.Score(A), 9);
    }

    [Fact]
    public void Score_NegativeScoreSurvivesReconnectWithinRetainTime_PositiveIsForgotten()
    {
        FakeTimeProvider time = new();
        PeerScore score = new(new PeerScoreOptions(), time);
        score.AddPeer(A);
        score.InvalidDelivery(A, "t");
        score.AddPeer(B);
        score.FirstDelivery(B, "t");
        score.RemovePeer(A);
        score.RemovePeer(B);
        score.AddPeer(A);
        score.AddPeer(B);
        Assert.True(score.Score(A) < 0);
        Assert.Equal(0, score.Score(B));
        score.RemovePeer(A);
        time.Advance(TimeSpan.FromMinutes(11));
        score.Decay();
        score.AddPeer(A);
        Assert.Equal(0, score.Score(A));
    }

    private static PubsubMessage Message(string topic, ulong seqno)
    {
        using KeyPair key = KeyPair.Generate();
        return PubsubMessage.Sign(key, topic, new byte[] { 1 }, seqno, includeKey: false);
    }

    [Fact]
    public void MessageCache_ShiftsWindows_GossipsTheRecentOnes_ForgetsTheOld()
    {
        MessageCache cache = new(historyLength: 5, historyGossip: 3);
        List<MessageId> ids = [];
        for (int window = 0; window < 6; window++)
        {
            MessageId id = new([(byte)window]);
            ids.Add(id);
            cache.Put(id, Message(window % 2 == 0 ? "even" : "odd", (ulong)window));
            cache.Put(new MessageId([(byte)window]), Message("dup", 99));         // same id again: ignored
            if (window < 5)
                cache.Shift();
        }
        // Windows now hold (newest first) 5, 4, 3, 2, 1; message 0 is gone.
        Assert.Null(cache.Get(ids[0]));
        Assert.NotNull(cache.Get(ids[1]));
        Assert.Equal(5, cache.Count);
        Assert.Equal([ids[4]], cache.GossipIds("even"));       // windows 5, 4, 3 only
        Assert.Equal([ids[5], ids[3]], cache.GossipIds("odd"));
        Assert.Empty(cache.GossipIds("dup"));
    }

    [Fact]
    public void MessageCache_GetForPeer_AtMostNTimesPerPeer()
    {
        MessageCache cache = new(5, 3);
        MessageId id = new([7]);
        cache.Put(id, Message("t", 1));
        for (int i = 0; i < 3; i++)
            Assert.NotNull(cache.GetForPeer(id, A, 3));
        Assert.Null(cache.GetForPeer(id, A, 3));
        Assert.NotNull(cache.GetForPeer(id, B, 3));
        Assert.Null(cache.GetForPeer(new MessageId([8]), B, 3));
    }

    [Fact]
    public void TimeCache_ExpiresAfterTheTtl_AndStaysWithinCapacity()
    {
        FakeTimeProvider time = new();
        TimeCache<int> cache = new(TimeSpan.FromSeconds(120), capacity: 3, time);
        Assert.True(cache.Add(1));
        Assert.False(cache.Add(1));
        time.Advance(TimeSpan.FromSeconds(119));
        Assert.True(cache.Contains(1));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(cache.Contains(1));
        Assert.True(cache.Add(1));
        cache.Add(2);
        cache.Add(3);
        cache.Add(4);
        Assert.Equal(3, cache.Count);
        Assert.False(cache.Contains(1));                       // the oldest went early
        Assert.True(cache.Contains(4));
    }

    [Fact]
    public void Options_InvalidCombinations_Rejected()
    {
        new PubsubOptions().Validate();
        Assert.ThrowsAny<ArgumentException>(() => new PubsubOptions { DLo = 7 }.Validate());
        Assert.ThrowsAny<ArgumentException>(() => new PubsubOptions { DOut = 5 }.Validate());
        Assert.ThrowsAny<ArgumentException>(() => new PubsubOptions { HistoryGossip = 6 }.Validate());
        Assert.ThrowsAny<ArgumentException>(() => new PubsubOptions { MaxControlBytes = PubsubOptions.MaxControlBytesLimit + 1 }.Validate());
        Assert.ThrowsAny<ArgumentException>(() => new PubsubOptions { Score = new PeerScoreOptions { GraylistThreshold = -1 } }.Validate());
        Assert.ThrowsAny<ArgumentException>(() => new PubsubOptions { Score = new PeerScoreOptions { BehaviourPenaltyDecay = 1 } }.Validate());
        Assert.ThrowsAny<ArgumentException>(() => new PubsubOptions { GossipFactor = double.NaN }.Validate());
    }
}
