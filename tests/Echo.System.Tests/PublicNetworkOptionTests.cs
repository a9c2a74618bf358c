using Echo.Cli;
using Echo.Net.Bootstrap;
using Echo.Net.Multiformats;
using Echo.Net.Relay;
using Echo.Protocols;

namespace Echo.SystemTests;

/// <summary>
/// What --bootstrap turns into, read from the settings and network options echo-chat builds from
/// them, without starting a node: nothing is dialed here, and the built-in list is never used.
/// </summary>
public sealed class PublicNetworkOptionTests
{
    private static ChatSettings Plain() =>
        ChatSettings.Create(0, "alice", [], [], null, "/nonexistent/echo-test", headless: true, noMdns: true, logFile: null);

    [Fact]
    public void WithoutOptingIn_ThePublicNetworkIsOff()
    {
        ChatSettings settings = Plain().WithPublicNetwork([], builtIn: false, dns: null);

        Assert.False(settings.PublicNetworkEnabled);
        Assert.Empty(settings.Bootstrap);
        Assert.Null(ChatApp.PublicNetwork(settings));
        Assert.Null(ChatApp.PublicNetwork(Plain()));
    }

    [Fact]
    public void Bootstrap_UsesOnlyTheGivenPeers_KeepingItsCacheInTheDataDirectory()
    {
        const string Given = "/ip4/127.0.0.1/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ";
        ChatSettings settings = Plain().WithPublicNetwork([Given, Given], builtIn: false, dns: "127.0.0.1:5353");

        Assert.Equal([Multiaddr.Parse(Given)], settings.Bootstrap);
        PublicNetworkOptions options = ChatApp.PublicNetwork(settings)!;
        Assert.Equal([Multiaddr.Parse(Given)], options.Bootstrap.Peers);
        Assert.Equal("127.0.0.1:5353", options.Bootstrap.DnsServer!.ToString());
        Assert.Equal(Path.Combine("/nonexistent/echo-test", "bootstrap-peers.json"), options.Bootstrap.StateFile);
        options.Validate();
    }

    [Fact]
    public void RelayOptions_ReachThePublicNetwork_AndContradictionsAreRefused()
    {
        const string Given = "/ip4/127.0.0.1/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ";
        ChatSettings plain = Plain().WithPublicNetwork([Given], builtIn: false, dns: null);

        PublicNetworkOptions defaults = ChatApp.PublicNetwork(plain.WithRelay(noService: false, service: false, reserve: false))!;
        Assert.Equal((RelayServiceMode.Auto, false), (defaults.RelayService.Mode, defaults.Relay.ReserveAlways));
        PublicNetworkOptions off = ChatApp.PublicNetwork(plain.WithRelay(noService: true, service: false, reserve: true))!;
        Assert.Equal((RelayServiceMode.Off, true), (off.RelayService.Mode, off.Relay.ReserveAlways));
        Assert.Equal(RelayServiceMode.On, ChatApp.PublicNetwork(plain.WithRelay(noService: false, service: true, reserve: false))!.RelayService.Mode);
        ArgumentException e = Assert.Throws<ArgumentException>(() => plain.WithRelay(noService: true, service: true, reserve: false));
        Assert.Equal(ChatSettings.RelayServiceConflict, e.Message);
    }
}
