using Echo.Net.AutoNat;
using Echo.Net.Host;
using Echo.Net.Kad;
using Echo.Net.Multiformats;
using Echo.Net.Multistream;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using KadPb = Echo.Net.Kad.Pb;

namespace Echo.Net.Tests.Kad;

/// <summary>
/// The DHT's mode following reachability (a stand-in for AutoNAT): client while unknown or private,
/// server while public, client again when private; only a server lists kad in identify (pushed to
/// connected peers on each change, so their tables take it in and drop it), and a client refuses
/// inbound kad streams. <c>--dht-client</c> stays a client even when public.
/// </summary>
public sealed class KadModeTests : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly List<IAsyncDisposable> _owned = [];

    /// <summary>A reachability the test sets.</summary>
    private sealed class FakeReachability : IReachabilitySource
    {
        private ReachabilityReport _report = ReachabilityReport.Unknown;

        public ReachabilityReport Reachability => Volatile.Read(ref _report);

        public event Action<ReachabilityReport>? ReachabilityChanged;

        public void Set(ReachabilityStatus status)
        {
            ReachabilityReport report = new(status, status == ReachabilityStatus.Unknown ? [] : [Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001")]);
            Volatile.Write(ref _report, report);
            ReachabilityChanged?.Invoke(report);
        }
    }

    private async Task<(Libp2pHost Host, KadDht Dht)> StartAsync(KadMode? forced, IReachabilitySource? reachability)
    {
        Libp2pHost host = await TestHosts.StartAsync();
        KadDht dht = new(host, new KadOptions { ForcedMode = forced }, NullLoggerFactory.Instance, reachability: reachability);
        dht.Start();
        _owned.Add(host);
        _owned.Add(dht);
        return (host, dht);
    }

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
    }

    private static async Task<KadPb.Message?> FindNodeAsync(Libp2pHost from, Libp2pHost to)
    {
        P2PStream stream = await from.OpenStreamAsync(to.PeerId, KadDht.ProtocolId, Ct);
        await KadCodec.WriteAsync(stream.Output, new KadPb.Message
        {
            Type = KadPb.Message.Types.MessageType.FindNode,
            Key = ByteString.CopyFrom(from.PeerId.ToBytes()),
        }, Ct);
        KadPb.Message? answer = await KadCodec.ReadAsync(stream.Input, KadLimits.MaxMessageBytes, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await stream.CompleteOutputAsync();
        return answer;
    }

    private static bool ListsKad(Libp2pHost observer, Libp2pHost observed) =>
        observer.PeerStore.Get(observed.PeerId) is { } info && info.Supports(KadDht.ProtocolId);

    [Fact(Timeout = 60_000)]
    public async Task TheMode_FollowsReachability_ClientUntilPublic_ServerWhilePublic_ClientWhenPrivate()
    {
        FakeReachability reachability = new();
        (Libp2pHost node, KadDht dht) = await StartAsync(null, reachability);
        (Libp2pHost peer, KadDht peerDht) = await StartAsync(KadMode.Server, null);
        List<KadMode> changes = [];
        dht.ModeChanged += m =>
        {
            lock (changes)
                changes.Add(m);
        };
        Task identified = TestHosts.Identified(peer, node.PeerId);
        await peer.DialAsync(TestHosts.AddressOf(node), Ct);
        await identified.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        // Unknown: a client. No kad in identify, in no table, its kad streams refused.
        Assert.Equal(KadMode.Client, dht.Mode);
        Assert.DoesNotContain(KadDht.ProtocolId, node.Protocols);
        Assert.False(ListsKad(peer, node));
        Assert.DoesNotContain(peerDht.RoutingTablePeers, p => p.Id == node.PeerId);
        await Assert.ThrowsAsync<ProtocolNotSupportedException>(() => FindNodeAsync(peer, node));

        // Private: still a client.
        reachability.Set(ReachabilityStatus.Private);
        Assert.Equal(KadMode.Client, dht.Mode);
        Assert.DoesNotContain(KadDht.ProtocolId, node.Protocols);

        // Public: a server. identify push tells the peer, whose table takes the node in; it answers FIND_NODE.
        reachability.Set(ReachabilityStatus.Public);
        Assert.Equal(KadMode.Server, dht.Mode);
        Assert.Contains(KadDht.ProtocolId, node.Protocols);
        await TestHosts.WaitUntilAsync(() => ListsKad(peer, node), "the peer learned through identify push that the node serves kad");
        await TestHosts.WaitUntilAsync(() => peerDht.RoutingTablePeers.Any(p => p.Id == node.PeerId), "the peer's table holds the node");
        KadPb.Message? answer = await FindNodeAsync(peer, node);
        Assert.Equal(KadPb.Message.Types.MessageType.FindNode, answer?.Type);

        // Private again: a client. The push withdraws kad, the peer's table drops the node, streams are refused.
        reachability.Set(ReachabilityStatus.Private);
        Assert.Equal(KadMode.Client, dht.Mode);
        Assert.DoesNotContain(KadDht.ProtocolId, node.Protocols);
        await TestHosts.WaitUntilAsync(() => !ListsKad(peer, node), "the peer learned through identify push that the node stopped serving kad");
        await TestHosts.WaitUntilAsync(() => peerDht.RoutingTablePeers.All(p => p.Id != node.PeerId), "the peer's table dropped the node");
        await Assert.ThrowsAsync<ProtocolNotSupportedException>(() => FindNodeAsync(peer, node));

        // Unknown (the answers aged out) is no verdict of public: a client.
        reachability.Set(ReachabilityStatus.Public);
        reachability.Set(ReachabilityStatus.Unknown);
        Assert.Equal(KadMode.Client, dht.Mode);
        lock (changes)
            Assert.Equal([KadMode.Server, KadMode.Client, KadMode.Server, KadMode.Client], changes);
    }

    [Fact(Timeout = 30_000)]
    public async Task AReachabilityAlreadyPublicAtStart_StartsAServer()
    {
        FakeReachability reachability = new();
        reachability.Set(ReachabilityStatus.Public);
        (Libp2pHost node, KadDht dht) = await StartAsync(null, reachability);

        Assert.Equal(KadMode.Server, dht.Mode);
        Assert.Contains(KadDht.ProtocolId, node.Protocols);
    }

    [Fact(Timeout = 30_000)]
    public async Task DhtClientForced_StaysAClient_WhenPublic()
    {
        FakeReachability reachability = new();
        (Libp2pHost node, KadDht dht) = await StartAsync(KadMode.Client, reachability);

        reachability.Set(ReachabilityStatus.Public);

        Assert.Equal(KadMode.Client, dht.Mode);
        Assert.DoesNotContain(KadDht.ProtocolId, node.Protocols);
    }

    [Fact(Timeout = 30_000)]
    public async Task DhtServerForced_StaysAServer_WhenPrivate()
    {
        FakeReachability reachability = new();
        (Libp2pHost node, KadDht dht) = await StartAsync(KadMode.Server, reachability);

        reachability.Set(ReachabilityStatus.Private);

        Assert.Equal(KadMode.Server, dht.Mode);
        Assert.Contains(KadDht.ProtocolId, node.Protocols);
    }
}
