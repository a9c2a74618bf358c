using Echo.Cli;
using Echo.Net.Kad;
using Echo.Protocols;

namespace Echo.SystemTests;

/// <summary>What --dht-server and --dht-client turn into, read from the settings without starting a node.</summary>
public sealed class DhtOptionTests
{
    private const string Bootstrap = "/ip4/127.0.0.1/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ";

    private static ChatSettings Public() =>
        ChatSettings.Create(0, "alice", [], [], null, "/nonexistent/echo-test", headless: true, noMdns: true, logFile: null)
            .WithPublicNetwork([Bootstrap], builtIn: false, dns: null);

    [Fact]
    public void NeitherOption_FollowsAutoNat_WithThePeerCacheInTheDataDirectory()
    {
        PublicNetworkOptions options = ChatApp.PublicNetwork(Public().WithDht(server: false, client: false))!;
        Assert.Null(options.DhtMode);
        Assert.Equal(Path.Combine("/nonexistent/echo-test", "dht-peers.json"), options.DhtPeerCacheFile);
    }

    [Theory]
    [InlineData(true, false, KadMode.Server)]
    [InlineData(false, true, KadMode.Client)]
    public void EitherOption_ForcesItsMode(bool server, bool client, KadMode expected) =>
        Assert.Equal(expected, ChatApp.PublicNetwork(Public().WithDht(server, client))!.DhtMode);

    [Fact]
    public void BothOptions_ExcludeEachOther() =>
        Assert.Equal(ChatSettings.DhtModesExclusive, Assert.Throws<ArgumentException>(() => Public().WithDht(server: true, client: true)).Message);

    [Fact]
    public void WithoutThePublicNetwork_EitherOptionIsAnError()
    {
        ChatSettings local = ChatSettings.Create(0, "alice", [], [], null, "/nonexistent/echo-test", headless: true, noMdns: true, logFile: null);
        Assert.Equal(ChatSettings.DhtNeedsPublicNetwork, Assert.Throws<ArgumentException>(() => local.WithDht(server: true, client: false)).Message);
        Assert.Null(local.WithDht(server: false, client: false).DhtMode);
    }
}
