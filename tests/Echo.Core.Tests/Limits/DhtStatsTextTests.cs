using Echo.Core.Ports;

namespace Echo.Core.Tests.Limits;

/// <summary>/stats with the DHT on: the provider records held, and their refusals among the others.</summary>
public sealed class DhtStatsTextTests
{
    [Fact]
    public void StatsText_WithTheDht_ShowsTheProviderRecordsHeld_AndTheirRefusals()
    {
        NodeStats stats = new(1, 4, 9, 1024 * 1024, 128L * 1024 * 1024, new Dictionary<string, long> { ["dht.provider-records-per-peer"] = 3 })
        {
            DhtProviderRecords = 412,
        };

        string text = ChatManager.StatsText(stats);

        Assert.Contains("\ndht provider records held: 412\n", text, StringComparison.Ordinal);
        Assert.Contains("  dht.provider-records-per-peer 3", text, StringComparison.Ordinal);
        Assert.DoesNotContain("dht provider records", ChatManager.StatsText(NodeStats.Empty), StringComparison.Ordinal);
    }
}
