using System.Net;
using Echo.Core.Ports;
using Echo.Net.AutoNat;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Protocols.Tests.Network;

/// <summary>The adapter passes AutoNAT's verdicts to the chat: unknown at start, then each change.</summary>
public sealed class ReachabilityAdapterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static bool Loopback(Multiaddr address) => AutoNatAddresses.IpOf(address) is { } ip && IPAddress.IsLoopback(ip);

    private static HostOptions AutoNat(AutoNatOptions options) => new()
    {
        ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
        EnableAutoNat = true,
        AutoNat = options,
    };

    [Fact(Timeout = 60_000)]
    public async Task WithAutoNat_UnknownAtStart_ThenPublicWithTheAddress()
    {
        await using Libp2pHost first = new(KeyPair.Generate(), AutoNat(new AutoNatOptions
        {
            IsPublic = Loopback, ServerMode = AutoNatServerMode.On, Candidates = () => [],
        }), NullLoggerFactory.Instance);
        await using Libp2pHost second = new(KeyPair.Generate(), first.Options, NullLoggerFactory.Instance);
        await first.StartAsync(Ct);
        await second.StartAsync(Ct);
        Libp2pHost host = new(KeyPair.Generate(), AutoNat(new AutoNatOptions { IsPublic = Loopback, Threshold = 1 }), NullLoggerFactory.Instance);
        await using Libp2pChatNetwork network = new(host, TestNetworks.Options, NullLoggerFactory.Instance);
        await network.StartAsync(Ct);

        Assert.Equal(NodeReachability.Unknown, (await network.Events.NextAsync<ReachabilityChanged>()).Status);
        await network.ConnectAsync(TestHosts.AddressOf(first).ToString(), Ct);
        await network.ConnectAsync(TestHosts.AddressOf(second).ToString(), Ct);
        ReachabilityChanged judged = await network.Events.NextAsync<ReachabilityChanged>();
        Assert.Equal(NodeReachability.Public, judged.Status);
        Assert.Equal([host.ListenAddresses[0].ToString()], judged.Addresses);
    }

    [Fact(Timeout = 30_000)]
    public async Task WithoutAutoNat_NoReachabilityIsReported()
    {
        await using Libp2pChatNetwork network = await TestNetworks.StartAsync();
        Assert.Null(network.Host.AutoNat);
        Assert.DoesNotContain(AutoNatCodec.DialBackProtocol, network.Host.Protocols);
        Assert.DoesNotContain(AutoNatCodec.DialRequestProtocol, network.Host.Protocols);
        while (network.Events.TryRead(out NetworkEvent? networkEvent))
            Assert.IsNotType<ReachabilityChanged>(networkEvent);
    }
}
