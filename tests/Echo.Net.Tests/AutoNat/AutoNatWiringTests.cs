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
}
