using Echo.Cli;
using Echo.Net.Bootstrap;
using Echo.Net.Multiformats;
using Echo.Protocols;

namespace Echo.SystemTests;

/// <summary>
/// What --public and --bootstrap turn into, read from the settings and network options echo-chat
/// builds from them, without starting a node: nothing is dialed here.
/// </summary>
public sealed class PublicNetworkOptionTests
{
    private static ChatSettings Plain() =>
        ChatSettings.Create(0, "alice", [], [], null, "/nonexistent/echo-test", headless: true, noMdns: true, logFile: null);

    [Fact]
    public void Public_BootstrapsFromTheBuiltInList_KeepingItsCacheInTheDataDirectory()
    {
        ChatSettings settings = Plain().WithPublicNetwork([], builtIn: true, dns: null);

        Assert.True(settings.PublicNetworkEnabled);
        Assert.Equal(PublicBootstrapPeers.Multiaddrs, settings.Bootstrap);
        PublicNetworkOptions options = ChatApp.PublicNetwork(settings)!;
        Assert.Equal(PublicBootstrapPeers.Multiaddrs, options.Bootstrap.Peers);
        Assert.Null(options.Bootstrap.DnsServer);
        Assert.Equal(Path.Combine("/nonexistent/echo-test", "bootstrap-peers.json"), options.Bootstrap.StateFile);
        options.Validate();
    }

    [Fact]
    public void WithoutBootstrapOrPublic_ThePublicNetworkIsOff()
    {
        ChatSettings settings = Plain().WithPublicNetwork([], builtIn: false, dns: null);

        Assert.False(settings.PublicNetworkEnabled);
        Assert.Empty(settings.Bootstrap);
        Assert.Null(ChatApp.PublicNetwork(settings));
        Assert.Null(ChatApp.PublicNetwork(Plain()));
    }

    [Fact]
    public void Bootstrap_UsesOnlyTheGivenPeers_AndWithPublicBoth()
    {
        const string Given = "/ip4/127.0.0.1/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ";
        ChatSettings settings = Plain().WithPublicNetwork([Given, Given], builtIn: false, dns: "127.0.0.1:5353");

        Assert.Equal([Multiaddr.Parse(Given)], settings.Bootstrap);
        Assert.Equal("127.0.0.1:5353", ChatApp.PublicNetwork(settings)!.Bootstrap.DnsServer!.ToString());

        ChatSettings both = Plain().WithPublicNetwork([Given], builtIn: true, dns: null);
        Assert.Equal([Multiaddr.Parse(Given), .. PublicBootstrapPeers.Multiaddrs], both.Bootstrap);
    }
}
