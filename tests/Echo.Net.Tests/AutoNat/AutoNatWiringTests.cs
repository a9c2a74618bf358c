using System.IO.Pipelines;
using System.Net;
using Echo.Net.AutoNat;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Net.Tests.AutoNat;

/// <summary>
/// AutoNAT with no overrides takes the host's own pieces: its address classes (with
/// <see cref="HostOptions.PublicRanges"/>) decide what is checked and what a server dials back.
/// </summary>
public class AutoNatWiringTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly IPNetwork[] LoopbackAsPublic = [IPNetwork.Parse("127.0.0.0/8")];

    private static async Task<Libp2pHost> StartAsync(AutoNatOptions autoNat, IReadOnlyList<IPNetwork> publicRanges)
    {
        Libp2pHost host = new(KeyPair.Generate(), new HostOptions
        {
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            EnableAutoNat = true,
            AutoNat = autoNat,
            PublicRanges = publicRanges,
        }, NullLoggerFactory.Instance);
        await host.StartAsync(Ct);
        return host;
    }

    [Fact(Timeout = 30_000)]
    public async Task TheHostsPublicRanges_DecideWhatIsChecked_AndWhatAServerDialsBack()
    {
        await using Libp2pHost server = await StartAsync(new AutoNatOptions { ServerMode = AutoNatServerMode.On, Candidates = () => [] },
            LoopbackAsPublic);
        await using Libp2pHost inRange = await StartAsync(new AutoNatOptions { Threshold = 0 }, LoopbackAsPublic);
        await using Libp2pHost outOfRange = await StartAsync(new AutoNatOptions { Threshold = 0 }, []);
        Connection toServer = await inRange.DialAsync(TestHosts.AddressOf(server), Ct);
        Connection fromOutside = await outOfRange.DialAsync(TestHosts.AddressOf(server), Ct);
        await TestHosts.WaitUntilAsync(() => inRange.PeerStore.Get(server.PeerId) is not null && outOfRange.PeerStore.Get(server.PeerId) is not null,
            "both clients identified the server");

        // A loopback listen address is public only inside a public range: checked (as soon as the
        // server was identified) and confirmed there.
        await TestHosts.WaitUntilAsync(() => inRange.AutoNat!.Reachability.Status == ReachabilityStatus.Public, "the in-range client is judged public");
        Assert.Equal(inRange.ListenAddresses, inRange.AutoNat!.Reachability.Addresses);

        // Outside it, the address is not a candidate: nothing is asked, nothing is known.
        await outOfRange.AutoNat!.RoundAsync(Ct);
        Assert.Empty(outOfRange.AutoNat.Tracker.Candidates);
        Assert.Equal(ReachabilityStatus.Unknown, outOfRange.AutoNat.Reachability.Status);

        // A server without the range will not dial a loopback address back.
        await using Libp2pHost strictServer = await StartAsync(new AutoNatOptions { ServerMode = AutoNatServerMode.On, Candidates = () => [] }, []);
        Connection toStrict = await inRange.DialAsync(TestHosts.AddressOf(strictServer), Ct);
        AutoNatCheck refused = await inRange.AutoNat!.Client.CheckAsync(toStrict, inRange.ListenAddresses, Ct);
        Assert.Equal(AutoNatOutcome.Refused, refused.Outcome);
        Assert.Equal(1, strictServer.AutoNat!.ServerStats.Refused);
        Assert.False(toServer.IsClosed || fromOutside.IsClosed);
    }

    /// <summary>
    /// A limited connection is known by its flag (<see cref="Connection.Limit"/>), not by a
    /// <c>/p2p-circuit</c> in its address: this one has a plain TCP address, and the server still refuses.
    /// </summary>
    [Fact(Timeout = 30_000)]
    public async Task ARequestOverALimitedConnection_IsRefused_WhateverItsAddress()
    {
        await using Libp2pHost server = await StartAsync(new AutoNatOptions { ServerMode = AutoNatServerMode.On, Candidates = () => [] },
            LoopbackAsPublic);
        await using Libp2pHost client = await StartAsync(new AutoNatOptions { Candidates = () => [] }, LoopbackAsPublic);
        // Let the request through the host's own limited-connection filter, so AutoNAT's check is what refuses it.
        server.AllowOnLimitedConnections(AutoNatCodec.DialRequestProtocol);
        Multiaddr plain = Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001");
        Pipe toServer = new(), toClient = new();
        Task<Connection> atServer = server.AddConnectionAsync(new PipeRawConnection(new DuplexPipe(toServer.Reader, toClient.Writer), plain, plain),
            ConnectionRole.Responder, ConnectionDirection.Inbound, client.PeerId, ConnectionLimit.Unknown, Ct);
        Task<Connection> atClient = client.AddConnectionAsync(new PipeRawConnection(new DuplexPipe(toClient.Reader, toServer.Writer), plain, plain),
            ConnectionRole.Initiator, ConnectionDirection.Outbound, server.PeerId, null, Ct);
        Connection[] both = await Task.WhenAll(atServer, atClient).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.True(both[0].IsLimited);

        AutoNatCheck check = await client.AutoNat!.Client.CheckAsync(both[1], client.ListenAddresses, Ct);

        Assert.Equal(AutoNatOutcome.Failed, check.Outcome);
        Assert.Equal(1, server.AutoNat!.ServerStats.LimitedConnections);
        Assert.Equal(0, server.AutoNat.ServerStats.Checks);
    }
}
