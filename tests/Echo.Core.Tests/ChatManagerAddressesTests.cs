using Echo.Core.Ports;

namespace Echo.Core.Tests;

/// <summary>The text /addrs shows.</summary>
public sealed class ChatManagerAddressesTests
{
    private static readonly NodeAddresses Sample = new(
        ["/ip4/10.201.1.2/tcp/4001"],
        [new ObservedNodeAddress("/ip4/10.200.0.11/tcp/4001", 4, true), new ObservedNodeAddress("/ip4/10.200.0.11/tcp/5555", 1, false)],
        ["/ip4/10.201.1.2/tcp/4001/p2p/12D3KooWA", "/ip4/10.200.0.11/tcp/4001/p2p/12D3KooWA"]);

    [Fact]
    public void AddressesText_ListsListenObservedWithObserversAndTrust_AndAdvertised() =>
        Assert.Equal(
            """
            listening on:
              /ip4/10.201.1.2/tcp/4001
            observed by peers:
              /ip4/10.200.0.11/tcp/4001 (4 observers, trusted)
              /ip4/10.200.0.11/tcp/5555 (1 observer)
            advertised:
              /ip4/10.201.1.2/tcp/4001/p2p/12D3KooWA
              /ip4/10.200.0.11/tcp/4001/p2p/12D3KooWA
            """.ReplaceLineEndings("\n"),
            ChatManager.AddressesText(Sample));

    [Fact]
    public void AddressesText_SaysWhenNothingIsObserved() =>
        Assert.Contains("observed by peers: nothing yet", ChatManager.AddressesText(Sample with { Observed = [] }), StringComparison.Ordinal);
}
