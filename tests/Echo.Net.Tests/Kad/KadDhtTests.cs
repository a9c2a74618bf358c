using System.Diagnostics;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Kad;
using Echo.Net.Multiformats;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using KadPb = Echo.Net.Kad.Pb;

namespace Echo.Net.Tests.Kad;

/// <summary>
/// The DHT between in-process hosts on 127.0.0.1: servers find each other and store and return
/// provider records, a client is in no routing table, and misbehaving peers (records for others,
/// bad keys, oversized messages, floods of closer peers, stalls) are refused or bounded.
/// </summary>
public sealed class KadDhtTests : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly List<IAsyncDisposable> _owned = [];

    private async Task<(Libp2pHost Host, KadDht Dht)> StartAsync(KadMode mode, KadOptions? options = null)
    {
        Libp2pHost host = await TestHosts.StartAsync();
        options ??= new KadOptions();
        KadDht dht = new(host, new KadOptions
        {
            ForcedMode = mode,
            RpcTimeout = options.RpcTimeout,
            PeerCachePath = options.PeerCachePath,
            PeerCacheDelay = options.PeerCacheDelay,
        }, NullLoggerFactory.Instance);
        dht.Start();
        _owned.Add(host);
        _owned.Add(dht);    // disposed first (reverse order)
        return (host, dht);
    }

    private static async Task ConnectAsync(Libp2pHost from, Libp2pHost to)
    {
        Task identified = TestHosts.Identified(from, to.PeerId);
        await from.DialAsync(TestHosts.AddressOf(to), Ct);
        await identified.WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
    }

    [Fact(Timeout = 60_000)]
    public async Task Servers_FillTheirTables_AClientsProviderRecordIsFoundByAnotherClient()
    {
        List<(Libp2pHost Host, KadDht Dht)> servers = [];
        for (int i = 0; i < 6; i++)
            servers.Add(await StartAsync(KadMode.Server));
        for (int i = 1; i < servers.Count; i++)
            await ConnectAsync(servers[i].Host, servers[0].Host);
        foreach ((_, KadDht dht) in servers)
            await dht.BootstrapAsync(Ct);
        Assert.All(servers, s => Assert.True(s.Dht.RoutingTableSize >= 3, $"a server knows {s.Dht.RoutingTableSize} peers"));

        (Libp2pHost alice, KadDht aliceDht) = await StartAsync(KadMode.Client);
        (Libp2pHost bob, KadDht bobDht) = await StartAsync(KadMode.Client);
        await ConnectAsync(alice, servers[1].Host);
        await ConnectAsync(bob, servers[5].Host);
        await TestHosts.WaitUntilAsync(() => aliceDht.RoutingTableSize >= 1 && bobDht.RoutingTableSize >= 1, "identify put the servers in the tables");

        byte[] key = KadDht.Sha256Multihash("echo-chat/room/v1/test"u8);
        int sent = await aliceDht.ProvideAsync(key, Ct);
        Assert.Equal(servers.Count, sent);
        // ADD_PROVIDER has no answer: the servers store the record after ProvideAsync returns.
        await TestHosts.WaitUntilAsync(() => servers.All(s => s.Dht.ProviderRecordCount == 1), "every server stored the record");

        List<KadPeer> found = [];
        await foreach (KadPeer provider in bobDht.FindProvidersAsync(key, 10, Ct))
            found.Add(provider);
        KadPeer only = Assert.Single(found);
        Assert.Equal(alice.PeerId, only.Id);
        Assert.Contains(alice.ListenAddresses[0], only.Addresses);

        // The refresh loop's own lookups may end after ours: pick the provider lookup, not the newest.
        KadLookupStats stats = Assert.Single(bobDht.RecentLookups, l => l.Kind == KadLookupKind.Providers);
        Assert.Equal(1, stats.Found);
        Assert.InRange(stats.MessagesSent, 1, servers.Count);
        Assert.Contains(aliceDht.RecentLookups, l => l.Kind == KadLookupKind.ClosestPeers && l.Found == servers.Count);

        IReadOnlyList<KadPeer> closest = await bobDht.GetClosestPeersAsync(alice.PeerId.ToBytes(), Ct);
        Assert.Equal(servers.Count, closest.Count);
        Assert.DoesNotContain(closest, p => p.Id == alice.PeerId);
    }

    [Fact(Timeout = 60_000)]
    public async Task AProvidersRelayAddress_IsInItsRecord_AndReachesTheOtherClient()
    {
        // A NATed provider is reachable only through its relay: its record must carry the
        // /p2p-circuit address (and the server, a lookup keep it), or nobody can dial it.
        (Libp2pHost server, KadDht serverDht) = await StartAsync(KadMode.Server);
        (Libp2pHost alice, KadDht aliceDht) = await StartAsync(KadMode.Client);
        (Libp2pHost bob, KadDht bobDht) = await StartAsync(KadMode.Client);
        await ConnectAsync(alice, server);
        await ConnectAsync(bob, server);
        await TestHosts.WaitUntilAsync(() => aliceDht.RoutingTableSize == 1 && bobDht.RoutingTableSize == 1, "identify put the server in the tables");
        Multiaddr circuit = Multiaddr.Parse($"/ip4/127.0.0.1/tcp/4001/p2p/{KeyPair.Generate().PeerId}/p2p-circuit");
        alice.SetExtraAddresses("relay", [circuit]);

        byte[] key = KadDht.Sha256Multihash("echo-chat/room/v1/relayed"u8);
        Assert.Equal(1, await aliceDht.ProvideAsync(key, Ct));
        await TestHosts.WaitUntilAsync(() => serverDht.ProviderRecordCount == 1, "the server stored the record");

        List<KadPeer> found = [];
        await foreach (KadPeer provider in bobDht.FindProvidersAsync(key, 10, Ct))
            found.Add(provider);
        KadPeer only = Assert.Single(found);
        Assert.Equal(alice.PeerId, only.Id);
        Assert.Contains(circuit, only.Addresses);
        Assert.Contains(alice.ListenAddresses[0], only.Addresses);
    }

    [Fact(Timeout = 30_000)]
    public async Task Client_DoesNotAdvertiseKad_AndIsInNoRoutingTable_AServerIs()
    {
        (Libp2pHost server, KadDht serverDht) = await StartAsync(KadMode.Server);
        (Libp2pHost client, KadDht clientDht) = await StartAsync(KadMode.Client);
        (Libp2pHost other, _) = await StartAsync(KadMode.Server);
        Assert.DoesNotContain(KadDht.ProtocolId, client.Protocols);
        Assert.Contains(KadDht.ProtocolId, server.Protocols);

        await ConnectAsync(client, server);
        await ConnectAsync(other, server);
        Assert.False((await TestHosts.Identified(server, client.PeerId)).Supports(KadDht.ProtocolId));
        await TestHosts.WaitUntilAsync(() => serverDht.RoutingTableSize == 1 && clientDht.RoutingTableSize == 1, "the tables settled");
        Assert.Equal([other.PeerId], serverDht.RoutingTablePeers.Select(p => p.Id));

        // Even a lookup through the server does not put the client in its table.
        await clientDht.BootstrapAsync(Ct);
        Assert.DoesNotContain(serverDht.RoutingTablePeers, p => p.Id == client.PeerId);
    }

    private static async Task<P2PStream> RawStreamAsync(Libp2pHost from, Libp2pHost to) =>
        await from.OpenStreamAsync(to.PeerId, KadDht.ProtocolId, Ct);

    private static KadPb.Message AddProvider(byte[] key, PeerId provider, params string[] addresses)
    {
        KadPb.Message message = new() { Type = KadPb.Message.Types.MessageType.AddProvider, Key = ByteString.CopyFrom(key) };
        KadPb.Message.Types.Peer peer = new() { Id = ByteString.CopyFrom(provider.Bytes) };
        foreach (string address in addresses)
            peer.Addrs.Add(ByteString.CopyFrom(Multiaddr.Parse(address).Bytes));
        message.ProviderPeers.Add(peer);
        return message;
    }

    [Fact(Timeout = 30_000)]
    public async Task AddProvider_ForAnotherPeerOrWithoutAddress_Refused_ForTheSenderStored()
    {
        (Libp2pHost server, KadDht serverDht) = await StartAsync(KadMode.Server);
        Libp2pHost sender = await TestHosts.StartAsync();
        _owned.Insert(0, sender);
        await ConnectAsync(sender, server);
        byte[] key = KadDht.Sha256Multihash("k"u8);

        // Several requests on one inbound stream: ADD_PROVIDER has no answer; GET_PROVIDERS has.
        P2PStream stream = await RawStreamAsync(sender, server);
        await KadCodec.WriteAsync(stream.Output, AddProvider(key, KeyPair.Generate().PeerId, "/ip4/127.0.0.1/tcp/1"), Ct);
        await KadCodec.WriteAsync(stream.Output, AddProvider(key, sender.PeerId), Ct);
        await KadCodec.WriteAsync(stream.Output, AddProvider(key, sender.PeerId, "/ip4/127.0.0.1/tcp/2"), Ct);
        await KadCodec.WriteAsync(stream.Output, new KadPb.Message { Type = KadPb.Message.Types.MessageType.GetProviders, Key = ByteString.CopyFrom(key) }, Ct);
        KadPb.Message answer = (await KadCodec.ReadAsync(stream.Input, KadLimits.MaxMessageBytes, Ct))!;
        await stream.CompleteOutputAsync();

        KadPb.Message.Types.Peer provider = Assert.Single(answer.ProviderPeers);
        Assert.Equal(sender.PeerId, PeerId.FromBytes(provider.Id.Span));
        Assert.Equal(Multiaddr.Parse("/ip4/127.0.0.1/tcp/2"), Multiaddr.FromBytes(Assert.Single(provider.Addrs).Span));
        Assert.Equal(2, serverDht.ProviderRecordsRefused);
        Assert.Equal(1, serverDht.ProviderRecordCount);
    }

    [Fact(Timeout = 30_000)]
    public async Task NonMultihashKey_RefusedByTheServer_AndByProvideAndFind()
    {
        (Libp2pHost server, KadDht serverDht) = await StartAsync(KadMode.Server);
        (Libp2pHost client, KadDht clientDht) = await StartAsync(KadMode.Client);
        await ConnectAsync(client, server);

        P2PStream stream = await RawStreamAsync(client, server);
        await KadCodec.WriteAsync(stream.Output, new KadPb.Message { Type = KadPb.Message.Types.MessageType.GetProviders, Key = ByteString.CopyFromUtf8("universal-connectivity/0.1.0") }, Ct);
        await Assert.ThrowsAnyAsync<IOException>(async () => await KadCodec.ReadAsync(stream.Input, KadLimits.MaxMessageBytes, Ct));

        byte[] raw = "echo-chat/room/v1/raw"u8.ToArray();
        await Assert.ThrowsAsync<ArgumentException>(() => clientDht.ProvideAsync(raw, Ct));
        await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            await foreach (KadPeer _ in clientDht.FindProvidersAsync(raw, 1, Ct))
            {
            }
        });
        Assert.Equal(0, serverDht.ProviderRecordCount);
    }

    [Fact(Timeout = 30_000)]
    public async Task OversizedMessage_ResetsTheStream_TheServerGoesOnServing()
    {
        (Libp2pHost server, _) = await StartAsync(KadMode.Server);
        (Libp2pHost client, KadDht clientDht) = await StartAsync(KadMode.Client);
        await ConnectAsync(client, server);

        P2PStream stream = await RawStreamAsync(client, server);
        await stream.Output.WriteAsync(Varint.Encode(KadLimits.MaxMessageBytes + 1UL), Ct);
        await stream.Output.WriteAsync(new byte[1024], Ct);
        await Assert.ThrowsAnyAsync<IOException>(async () => await KadCodec.ReadAsync(stream.Input, KadLimits.MaxMessageBytes, Ct));

        IReadOnlyList<KadPeer> closest = await clientDht.GetClosestPeersAsync(client.PeerId.ToBytes(), Ct);
        Assert.Equal([server.PeerId], closest.Select(p => p.Id));
    }

    /// <summary>A host that speaks kad (so identify lists it) with <paramref name="handler"/> in place of a DHT.</summary>
    private async Task<Libp2pHost> FakeServerAsync(StreamHandler handler)
    {
        Libp2pHost host = await TestHosts.StartAsync();
        host.SetStreamHandler(KadDht.ProtocolId, handler);
        _owned.Insert(0, host);
        return host;
    }

    [Fact(Timeout = 30_000)]
    public async Task StalledServer_BoundedByTheRpcTimeout_AndDroppedFromTheTable()
    {
        Libp2pHost stalled = await FakeServerAsync(async (stream, ct) =>
        {
            await KadCodec.ReadAsync(stream.Input, KadLimits.MaxMessageBytes, ct);
            await Task.Delay(Timeout.Infinite, ct);
        });
        (Libp2pHost good, _) = await StartAsync(KadMode.Server);
        (Libp2pHost client, KadDht dht) = await StartAsync(KadMode.Client, new KadOptions { RpcTimeout = TimeSpan.FromSeconds(1) });
        // The first DHT peer starts a refresh; the next one comes only after a minute, so the stall meets our lookup.
        await ConnectAsync(client, good);
        await TestHosts.WaitUntilAsync(() => dht.RecentLookups.Count > 0, "the first refresh ran");
        await ConnectAsync(client, stalled);
        await TestHosts.WaitUntilAsync(() => dht.RoutingTableSize == 2, "both servers are in the table");

        Stopwatch watch = Stopwatch.StartNew();
        IReadOnlyList<KadPeer> closest = await dht.GetClosestPeersAsync(KadDht.Sha256Multihash("x"u8), Ct);
        watch.Stop();

        Assert.Equal([good.PeerId], closest.Select(p => p.Id));
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(8));
        Assert.Equal([good.PeerId], dht.RoutingTablePeers.Select(p => p.Id));
    }

    [Fact(Timeout = 30_000)]
    public async Task TenThousandCloserPeers_TheAnswerIsRefused_NothingIsLearned()
    {
        int served = 0;
        Libp2pHost liar = await FakeServerAsync(async (stream, ct) =>
        {
            KadPb.Message request = (await KadCodec.ReadAsync(stream.Input, KadLimits.MaxMessageBytes, ct))!;
            KadPb.Message answer = new() { Type = request.Type, Key = request.Key };
            for (int i = 0; i < 10_000; i++)
                answer.CloserPeers.Add(new KadPb.Message.Types.Peer
                {
                    Id = ByteString.CopyFrom(KeyPair.Generate().PeerId.Bytes),
                    Addrs = { ByteString.CopyFrom(Multiaddr.Parse("/ip4/127.0.0.1/tcp/9").Bytes) },
                });
            Interlocked.Increment(ref served);
            await KadCodec.WriteAsync(stream.Output, answer, ct);
            await stream.CompleteOutputAsync();
        });
        (Libp2pHost client, KadDht dht) = await StartAsync(KadMode.Client);
        await ConnectAsync(client, liar);

        // The first DHT peer starts a refresh, which asks the liar for the peers closest to us.
        await TestHosts.WaitUntilAsync(() => dht.RecentLookups.Count > 0, "the refresh ran");

        KadLookupStats stats = dht.RecentLookups[0];
        Assert.Equal(KadLookupKind.Bootstrap, stats.Kind);
        Assert.Equal(1, served);
        Assert.Equal((1, 0, 0), (stats.MessagesSent, stats.PeersQueried, stats.Found));
        Assert.Equal(0, dht.RoutingTableSize);
        Assert.Empty(await dht.GetClosestPeersAsync(KadDht.Sha256Multihash("x"u8), Ct));
    }

    [Fact(Timeout = 60_000)]
    public async Task Restart_WithTheBootstrapPeerGone_RejoinsThroughThePersistedPeers()
    {
        string directory = Directory.CreateTempSubdirectory("echo-kad-").FullName;
        try
        {
            string cache = Path.Combine(directory, "dht-peers.json");
            (Libp2pHost bootstrap, _) = await StartAsync(KadMode.Server);
            (Libp2pHost server, _) = await StartAsync(KadMode.Server);
            await ConnectAsync(server, bootstrap);

            KadOptions options = new() { PeerCachePath = cache, PeerCacheDelay = TimeSpan.Zero };
            (Libp2pHost first, KadDht firstDht) = await StartAsync(KadMode.Client, options);
            await ConnectAsync(first, bootstrap);
            await TestHosts.WaitUntilAsync(() => firstDht.RoutingTableSize == 2 && File.Exists(cache), "the first run learned both servers and saved them");
            await firstDht.DisposeAsync();
            await first.DisposeAsync();
            await bootstrap.DisposeAsync();

            (Libp2pHost second, KadDht secondDht) = await StartAsync(KadMode.Client, options);
            await TestHosts.WaitUntilAsync(() => secondDht.RoutingTableSize == 1, "the restart reached the remembered server", TimeSpan.FromSeconds(20));
            Assert.Equal([server.PeerId], secondDht.RoutingTablePeers.Select(p => p.Id));
            Assert.NotNull(second.GetConnection(server.PeerId));
        }
        finally
        {
            // The running DHT rewrites its cache after each refresh: stop it before removing the directory.
            await DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }
}
