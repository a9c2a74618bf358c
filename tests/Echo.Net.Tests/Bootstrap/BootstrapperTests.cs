using Echo.Net.Bootstrap;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Tests.DnsAddr;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Net.Tests.Bootstrap;

/// <summary>
/// Bootstrapping from loopback hosts named by /dnsaddr records (a table of TXT records, no DNS
/// server): resolving and dialing them, redialing one that dropped, and dialing from the cache of
/// reached addresses when DNS fails. Every address is on 127.0.0.1.
/// </summary>
public class BootstrapperTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly RedialOptions Quick = new() { InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(200) };

    /// <summary>_dnsaddr.bootstrap.lab names a site per host; each site has its TCP address, a QUIC one and another peer's.</summary>
    private static FakeTxtLookup Records(IReadOnlyList<Libp2pHost> hosts)
    {
        Dictionary<string, string[]> records = new()
        {
            ["_dnsaddr.bootstrap.lab"] = [.. hosts.Select((h, i) => $"dnsaddr=/dnsaddr/site{i}.bootstrap.lab/p2p/{h.PeerId}")],
        };
        for (int i = 0; i < hosts.Count; i++)
        {
            Multiaddr tcp = TestHosts.AddressOf(hosts[i]);
            Multiaddr neighbour = TestHosts.AddressOf(hosts[(i + 1) % hosts.Count]);
            records[$"_dnsaddr.site{i}.bootstrap.lab"] =
            [
                $"dnsaddr=/ip4/127.0.0.1/udp/4001/quic-v1/p2p/{hosts[i].PeerId}",
                $"dnsaddr={neighbour.WithoutPeerId().WithPeerId(KeyPair.Generate().PeerId)}",
                $"dnsaddr={tcp}",
            ];
        }
        return new FakeTxtLookup(records);
    }

    [Fact(Timeout = 60_000)]
    public async Task Start_ResolvesTwoLevelsAndConnectsToEveryBootstrapPeer()
    {
        Libp2pHost[] servers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => TestHosts.StartAsync()));
        await using Libp2pHost client = await TestHosts.StartAsync();
        try
        {
            BootstrapOptions options = new()
            {
                Peers = [.. servers.Select(s => Multiaddr.Parse($"/dnsaddr/bootstrap.lab/p2p/{s.PeerId}"))],
                Redial = Quick,
            };
            await using Bootstrapper bootstrapper = new(client, options, NullLoggerFactory.Instance, lookup: Records(servers));
            bootstrapper.Start();

            // The cache learns of a connection in the host's connected event, just after the host holds it.
            await TestHosts.WaitUntilAsync(() => bootstrapper.ConnectedCount == 4 && bootstrapper.Cache.Count == 4,
                "all four bootstrap peers are connected and cached", TimeSpan.FromSeconds(5));
            Assert.All(servers, s => Assert.Equal(ConnectionDirection.Outbound, client.GetConnection(s.PeerId)!.Direction));
            Assert.Equal(4, bootstrapper.Cache.Count);
            Assert.Equal([servers[0].ListenAddresses[0]], bootstrapper.Cache.Addresses(servers[0].PeerId));
        }
        finally
        {
            foreach (Libp2pHost server in servers)
                await server.DisposeAsync();
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task BareName_ItsRecordsNameThePeers_EveryOneIsConnected()
    {
        Libp2pHost[] servers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => TestHosts.StartAsync()));
        await using Libp2pHost client = await TestHosts.StartAsync();
        try
        {
            BootstrapOptions options = new() { Peers = [Multiaddr.Parse("/dnsaddr/bootstrap.lab")], Redial = Quick };
            await using Bootstrapper bootstrapper = new(client, options, NullLoggerFactory.Instance, lookup: Records(servers));
            bootstrapper.Start();

            await TestHosts.WaitUntilAsync(() => bootstrapper.ConnectedCount == 4, "the four peers the name leads to are connected",
                TimeSpan.FromSeconds(5));
            Assert.Equal(4, bootstrapper.Peers.Count);
            Assert.True(bootstrapper.Peers.ToHashSet().SetEquals(servers.Select(s => s.PeerId)));
        }
        finally
        {
            foreach (Libp2pHost server in servers)
                await server.DisposeAsync();
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task BareName_UnresolvedAtFirst_IsAskedAgainUntilItNamesAPeer()
    {
        await using Libp2pHost server = await TestHosts.StartAsync();
        await using Libp2pHost client = await TestHosts.StartAsync();
        FakeTxtLookup lookup = Records([server]);
        lookup.Failing.Add("_dnsaddr.bootstrap.lab");
        BootstrapOptions options = new() { Peers = [Multiaddr.Parse("/dnsaddr/bootstrap.lab")], Redial = Quick };
        await using Bootstrapper bootstrapper = new(client, options, NullLoggerFactory.Instance, lookup: lookup);
        bootstrapper.Start();
        await TestHosts.WaitUntilAsync(() => lookup.Questions.Count(q => q == "_dnsaddr.bootstrap.lab") >= 2, "the name is asked again");
        Assert.Equal(0, bootstrapper.ConnectedCount);

        lookup.Failing.Clear();

        await TestHosts.WaitUntilAsync(() => bootstrapper.ConnectedCount == 1, "the peer the name leads to is connected");
    }

    [Fact(Timeout = 60_000)]
    public async Task DroppedBootstrapPeer_IsDialedAgain()
    {
        await using Libp2pHost server = await TestHosts.StartAsync();
        await using Libp2pHost client = await TestHosts.StartAsync();
        BootstrapOptions options = new() { Peers = [TestHosts.AddressOf(server)], Redial = Quick };
        await using Bootstrapper bootstrapper = new(client, options, NullLoggerFactory.Instance, lookup: new FakeTxtLookup([]));
        bootstrapper.Start();
        await TestHosts.WaitUntilAsync(() => bootstrapper.ConnectedCount == 1, "the bootstrap peer is connected");
        Connection first = client.GetConnection(server.PeerId)!;

        await server.GetConnection(client.PeerId)!.CloseAsync();

        await TestHosts.WaitUntilAsync(() => client.GetConnection(server.PeerId) is { } again && again != first,
            "the bootstrap peer is connected again");
    }

    [Fact(Timeout = 60_000)]
    public async Task DnsOutage_TheAddressesThatReachedAPeerBeforeAreDialed()
    {
        string directory = Directory.CreateTempSubdirectory("echo-bootstrap-").FullName;
        try
        {
            string state = Path.Combine(directory, "bootstrap-peers.json");
            await using Libp2pHost server = await TestHosts.StartAsync();
            BootstrapOptions options = new()
            {
                Peers = [Multiaddr.Parse($"/dnsaddr/bootstrap.lab/p2p/{server.PeerId}")],
                StateFile = state,
                Redial = Quick,
            };
            await using (Libp2pHost first = await TestHosts.StartAsync())
            {
                await using Bootstrapper bootstrapper = new(first, options, NullLoggerFactory.Instance, lookup: Records([server]));
                bootstrapper.Start();
                await TestHosts.WaitUntilAsync(() => bootstrapper.Cache.Count == 1, "the bootstrap peer is connected and remembered");
            }
            Assert.Contains(server.ListenAddresses[0].ToString(), await File.ReadAllTextAsync(state, Ct), StringComparison.Ordinal);
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(state));

            FakeTxtLookup down = new([]);
            down.Failing.Add("_dnsaddr.bootstrap.lab");
            await using Libp2pHost second = await TestHosts.StartAsync();
            await using Bootstrapper again = new(second, options, NullLoggerFactory.Instance, lookup: down);
            again.Start();

            await TestHosts.WaitUntilAsync(() => again.ConnectedCount == 1, "the bootstrap peer is connected from the cache");
            Assert.Contains("_dnsaddr.bootstrap.lab", down.Questions);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task DnsOutage_ThePeersABareNameLedToBeforeAreDialed()
    {
        string directory = Directory.CreateTempSubdirectory("echo-bootstrap-").FullName;
        try
        {
            await using Libp2pHost server = await TestHosts.StartAsync();
            BootstrapOptions options = new()
            {
                Peers = [Multiaddr.Parse("/dnsaddr/bootstrap.lab")],
                StateFile = Path.Combine(directory, "bootstrap-peers.json"),
                Redial = Quick,
            };
            await using (Libp2pHost first = await TestHosts.StartAsync())
            {
                await using Bootstrapper bootstrapper = new(first, options, NullLoggerFactory.Instance, lookup: Records([server]));
                bootstrapper.Start();
                // The host lists the connection before its PeerConnected handlers run: wait for the cache entry itself.
                await TestHosts.WaitUntilAsync(() => bootstrapper.Cache.NamedBy("/dnsaddr/bootstrap.lab").Contains(server.PeerId),
                    "the named peer is connected and remembered");
            }
            FakeTxtLookup down = new([]);
            down.Failing.Add("_dnsaddr.bootstrap.lab");
            await using Libp2pHost second = await TestHosts.StartAsync();
            await using Bootstrapper again = new(second, options, NullLoggerFactory.Instance, lookup: down);
            again.Start();

            await TestHosts.WaitUntilAsync(() => again.ConnectedCount == 1, "the peer is connected from the cache");
            Assert.Equal([server.PeerId], again.Peers);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void BootstrapCache_IsBounded()
    {
        BootstrapCache cache = BootstrapCache.InMemory();
        PeerId[] peers = [.. Enumerable.Range(0, BootstrapCache.MaxPeers + 5).Select(_ => KeyPair.Generate().PeerId)];
        DateTimeOffset now = DateTimeOffset.UnixEpoch;
        for (int i = 0; i < peers.Length; i++)
        {
            for (int port = 1; port <= 6; port++)
                cache.Reached(peers[i], Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{port}"), now.AddSeconds(i));
        }
        cache.Reached(peers[^1], Multiaddr.Parse("/ip4/127.0.0.1/udp/1/quic-v1"), now);

        Assert.Equal(BootstrapCache.MaxPeers, cache.Count);
        Assert.Empty(cache.Addresses(peers[0]));
        Assert.Equal(
            [.. Enumerable.Range(3, BootstrapCache.MaxAddresses).Reverse().Select(p => Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{p}"))],
            cache.Addresses(peers[^1]));
    }

    [Theory]
    [InlineData("/ip4/127.0.0.1/tcp/4001", "must end in /p2p/")]
    [InlineData("/ip4/127.0.0.1/udp/4001/quic-v1/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ", "not an address Echo can dial")]
    [InlineData("/dnsaddr/a.lab/tcp/1/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ", "not an address Echo can dial")]
    [InlineData("/dnsaddr/a.lab/tcp/1", "must end in /p2p/")]
    [InlineData("/ip4/127.0.0.1/tcp/x/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ", "tcp")]
    public void BootstrapAddress_RefusesWhatCannotBeABootstrapPeer(string text, string reason)
    {
        Assert.False(BootstrapAddress.TryParse(text, out Multiaddr? address, out string? error));
        Assert.Null(address);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void BootstrapAddress_TakesABareDnsaddrName()
    {
        Assert.True(BootstrapAddress.TryParse("/dnsaddr/bootstrap.lab", out Multiaddr? address, out string? error), error);
        Assert.Null(address!.PeerId);
    }

    [Fact]
    public void PublicList_IsTheAminoBootstrappers_EachAValidBootstrapAddress()
    {
        Assert.Equal(6, PublicBootstrapPeers.Addresses.Count);
        Assert.Equal(5, PublicBootstrapPeers.Addresses.Count(a => a.StartsWith("/dnsaddr/", StringComparison.Ordinal)));
        Assert.Contains("/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ", PublicBootstrapPeers.Addresses);
        foreach (string text in PublicBootstrapPeers.Addresses)
            Assert.True(BootstrapAddress.TryParse(text, out _, out string? error), $"{text}: {error}");
    }
}
