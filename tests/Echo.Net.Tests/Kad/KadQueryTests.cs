using Echo.Net.Identity;
using Echo.Net.Kad;
using Echo.Net.Multiformats;
using KadPb = Echo.Net.Kad.Pb;

namespace Echo.Net.Tests.Kad;

/// <summary>
/// The iterative lookup on fake peers (no network): which peers it asks, when it stops. A lookup asks
/// only the α closest peers it knows, replaces one that failed with the next closest, and follows
/// closer peers that answers bring.
/// </summary>
public class KadQueryTests
{
    private static readonly IReadOnlyList<Multiaddr> NoAddresses = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly KadOptions Options = new() { Alpha = 10, Resiliency = 3, BucketSize = 20 };

    /// <summary><paramref name="count"/> random peers, closest to <paramref name="target"/> first.</summary>
    private static List<KadPeer> PeersByDistance(KadKey target, int count) =>
        [.. Enumerable.Range(0, count).Select(_ => new KadPeer(KeyPair.Generate().PeerId, NoAddresses))
            .OrderBy(p => KadKey.Of(p.Id.Bytes), Comparer<KadKey>.Create(target.CompareDistance))];

    private static List<string> Sorted(IEnumerable<PeerId> ids) => [.. ids.Select(i => i.ToString()).Order(StringComparer.Ordinal)];

    private static KadPb.Message Answer(params KadPeer[] closer)
    {
        KadPb.Message message = new() { Type = KadPb.Message.Types.MessageType.GetProviders };
        foreach (KadPeer peer in closer)
            message.CloserPeers.Add(KadCodec.FromPeer(peer, connected: false));
        return message;
    }

    [Fact]
    public async Task KnowingTwentyPeers_WhoseAnswersBringNothingCloser_OnlyTheAlphaClosestAreAsked()
    {
        KadKey target = KadKey.Of(KeyPair.Generate().PeerId.Bytes);
        List<KadPeer> peers = PeersByDistance(target, 20);
        List<PeerId> asked = [];
        // Every answer lists all twenty (a small network where everyone knows everyone).
        KadQuery query = new(target, KeyPair.Generate().PeerId, peers, Options, (peer, _) =>
        {
            lock (asked)
                asked.Add(peer.Id);
            return Task.FromResult(Answer([.. peers]));
        });

        List<KadPeer> answered = await query.RunAsync(Ct);

        Assert.Equal(10, query.MessagesSent);
        Assert.Equal(Sorted(peers.Take(10).Select(p => p.Id)), Sorted(asked));
        Assert.Equal(peers.Take(3).Select(p => p.Id), answered.Take(3).Select(p => p.Id));
    }

    [Fact]
    public async Task APeerAmongTheClosestFails_TheNextClosestIsAskedInstead()
    {
        KadKey target = KadKey.Of(KeyPair.Generate().PeerId.Bytes);
        List<KadPeer> peers = PeersByDistance(target, 20);
        List<PeerId> asked = [];
        List<PeerId> failed = [];
        KadQuery query = new(target, KeyPair.Generate().PeerId, peers, Options, (peer, _) =>
        {
            lock (asked)
                asked.Add(peer.Id);
            return peer.Id == peers[0].Id ? Task.FromException<KadPb.Message>(new TimeoutException("stalled")) : Task.FromResult(Answer());
        })
        {
            OnFailure = (peer, _) => failed.Add(peer.Id),
        };

        List<KadPeer> answered = await query.RunAsync(Ct);

        Assert.Equal([peers[0].Id], failed);
        Assert.Equal(11, query.MessagesSent);
        Assert.Equal(Sorted(peers.Take(11).Select(p => p.Id)), Sorted(asked));
        Assert.Equal(peers.Skip(1).Take(3).Select(p => p.Id), answered.Take(3).Select(p => p.Id));
    }

    [Fact]
    public async Task AnAnswerBringsCloserPeers_TheyAreAsked_AndTheLookupEndsWhenTheClosestThreeAnswered()
    {
        KadKey target = KadKey.Of(KeyPair.Generate().PeerId.Bytes);
        List<KadPeer> all = PeersByDistance(target, 30);
        List<KadPeer> known = [.. all.Skip(10)];            // we start knowing only the 20 farthest
        List<KadPeer> hidden = [.. all.Take(10)];           // the closest, learned from the first answers
        List<PeerId> asked = [];
        KadQuery query = new(target, KeyPair.Generate().PeerId, known, Options, (peer, _) =>
        {
            lock (asked)
                asked.Add(peer.Id);
            // Each of the peers we knew points to the closest ones; those answer with nothing new.
            return Task.FromResult(known.Any(k => k.Id == peer.Id) ? Answer([.. hidden]) : Answer());
        });

        List<KadPeer> answered = await query.RunAsync(Ct);

        // The three closest, known only from answers, were asked and ended the lookup.
        Assert.Equal(all.Take(3).Select(p => p.Id), answered.Take(3).Select(p => p.Id));
        // The 10 closest we started with, then closer ones as they came, each once; never the farthest ten.
        Assert.InRange(query.MessagesSent, 13, 20);
        Assert.Equal(asked.Count, asked.Distinct().Count());
        Assert.DoesNotContain(asked, id => all.Skip(20).Any(p => p.Id == id));
    }

    [Fact]
    public async Task WhenTheClosestThreeAnswered_TheRequestsStillInFlightAreRead_NoneSentAnew()
    {
        KadKey target = KadKey.Of(KeyPair.Generate().PeerId.Bytes);
        List<KadPeer> peers = PeersByDistance(target, 20);
        List<PeerId> read = [];
        KadQuery query = new(target, KeyPair.Generate().PeerId, peers, Options, (_, _) => Task.FromResult(Answer()))
        {
            OnAnswer = (peer, _) =>
            {
                read.Add(peer.Id);
                return false;
            },
        };

        await query.RunAsync(Ct);

        // All ten asked answered at once; the answers of the seven beyond the closest three are read too.
        Assert.Equal(10, query.MessagesSent);
        Assert.Equal(Sorted(peers.Take(10).Select(p => p.Id)), Sorted(read));
    }

    [Fact]
    public async Task TheCallerHasEnough_TheLookupEndsWithoutReadingTheRest()
    {
        KadKey target = KadKey.Of(KeyPair.Generate().PeerId.Bytes);
        List<KadPeer> peers = PeersByDistance(target, 20);
        int read = 0;
        KadQuery query = new(target, KeyPair.Generate().PeerId, peers, Options, (_, _) => Task.FromResult(Answer()))
        {
            OnAnswer = (_, _) => ++read == 1,
        };

        await query.RunAsync(Ct);

        Assert.Equal((10, 1), (query.MessagesSent, read));
    }
    [Fact]
    public void Defaults_ALookupEndsAfter60Seconds_Or200PeersAsked_AndTracks1000()
    {
        KadOptions defaults = new();
        Assert.Equal((TimeSpan.FromSeconds(60), 200, 1000), (defaults.LookupTimeout, defaults.MaxPeersPerLookup, KadQuery.MaxKnownPeers));
    }

    /// <summary>
    /// A lying network: every answer brings 20 peers closer than any before, so the closest known are
    /// never all answered. The lookup still ends once it asked 200 peers, and of the 4,020 it heard of
    /// it keeps 1,000 (the farthest forgotten first).
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task ANetworkThatAlwaysHasCloserPeers_IsAsked200Times_AndTheLookupTracks1000Peers()
    {
        KadKey target = KadKey.Of(KeyPair.Generate().PeerId.Bytes);
        List<KadPeer> pool = PeersByDistance(target, 20 + (200 * 20));
        pool.Reverse();   // farthest first: the seeds, then ever closer
        int next = 20;
        int answers = 0;
        KadQuery query = new(target, KeyPair.Generate().PeerId, pool.Take(20), new KadOptions(), (_, _) =>
        {
            lock (pool)
            {
                answers++;
                KadPeer[] closer = [.. pool.Skip(next).Take(20)];
                next += closer.Length;
                return Task.FromResult(Answer(closer));
            }
        });

        await query.RunAsync(Ct);

        Assert.Equal(200, query.MessagesSent);
        Assert.Equal(200, answers);
        Assert.Equal(pool.Count, next);
        Assert.Equal(KadQuery.MaxKnownPeers, query.KnownPeers);
    }

    /// <summary>Peers that take every request and never answer: the lookup ends at its own timeout, not theirs.</summary>
    [Fact(Timeout = 60_000)]
    public async Task PeersThatNeverAnswer_TheLookupEndsAtItsTimeout()
    {
        KadKey target = KadKey.Of(KeyPair.Generate().PeerId.Bytes);
        List<KadPeer> peers = PeersByDistance(target, 20);
        KadOptions options = new() { Alpha = 10, Resiliency = 3, BucketSize = 20, LookupTimeout = TimeSpan.FromMilliseconds(300) };
        KadQuery query = new(target, KeyPair.Generate().PeerId, peers, options,
            async (_, ct) =>
            {
                await Task.Delay(Timeout.Infinite, ct);
                return Answer();
            });

        List<KadPeer> answered = await query.RunAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);

        Assert.Empty(answered);
        Assert.Equal(options.Alpha, query.MessagesSent);
    }
}
