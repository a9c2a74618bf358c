using Echo.Net.Identity;
using Echo.Net.Pubsub;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Pubsub;

/// <summary>L-pubsub-scores: at most 10,000 departed peers keep their (negative) score.</summary>
public sealed class PeerScoreRetentionLimitTests
{
    [Fact]
    public void RemovePeer_BeyondMaxRetainedPeers_ForgetsTheScoreAtOnce()
    {
        Assert.Equal(10_000, PeerScore.MaxRetainedPeers);
        PeerScore score = new(new PeerScoreOptions(), new FakeTimeProvider());
        PeerId[] peers = [.. Enumerable.Range(0, PeerScore.MaxRetainedPeers + 1).Select(PeerOf)];
        foreach (PeerId peer in peers)
        {
            score.AddPeer(peer);
            score.AddPenalty(peer, 20);
            Assert.True(score.Score(peer) < 0);
            score.RemovePeer(peer);
        }

        // The last of the retained departures reconnects with its negative score ...
        PeerId lastKept = peers[PeerScore.MaxRetainedPeers - 1];
        score.AddPeer(lastKept);
        Assert.True(score.Score(lastKept) < 0);

        // ... the one past the limit was forgotten and starts from zero.
        PeerId pastLimit = peers[PeerScore.MaxRetainedPeers];
        score.AddPeer(pastLimit);
        Assert.Equal(0, score.Score(pastLimit));
    }

    private static PeerId PeerOf(int index)
    {
        byte[] seed = new byte[32];
        BitConverter.TryWriteBytes(seed, index + 1);
        using KeyPair key = KeyPair.FromSeed(seed);
        return key.PeerId;
    }
}
