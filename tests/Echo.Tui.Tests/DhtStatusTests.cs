using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Tui.Tests;

/// <summary>The status line and the peer panel show what the DHT found.</summary>
public sealed class DhtStatusTests
{
    private const string Bob = "12D3KooWBobBobBobBobBobBobBobBobBobBobBobBobBobBob1";

    [Fact(Timeout = 30_000)]
    public async Task The_status_line_shows_the_dht_peers_and_whether_the_room_was_found_through_it()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync(width: 220);
        await tui.WaitUntilAsync(w => w.Status.Shown.Contains("peers", StringComparison.Ordinal), "the status line is drawn");
        Assert.DoesNotContain("dht", await tui.OnUiAsync(() => tui.Window.Status.Shown), StringComparison.Ordinal);

        tui.Network.Inject(new DhtStatusChanged(new DhtStatus("client", 23, 0, [], [])));
        await tui.WaitUntilAsync(w => w.Status.Shown.Contains(" | dht 23", StringComparison.Ordinal), "the table size is shown");
        Assert.DoesNotContain("room via dht", await tui.OnUiAsync(() => tui.Window.Status.Shown), StringComparison.Ordinal);

        tui.Network.Inject(new DhtStatusChanged(new DhtStatus("client", 31, 1, ["lobby"], [])));
        await tui.WaitUntilAsync(w => w.Status.Shown.Contains(" | dht 31, room via dht", StringComparison.Ordinal), "the room is found through the DHT");
    }

    [Fact(Timeout = 30_000)]
    public async Task A_peer_found_through_the_dht_says_so_in_the_peer_panel()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();

        tui.Network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/4001/p2p/" + Bob, PeerSource.Dht, DateTimeOffset.UtcNow)));

        await tui.WaitUntilAsync(w => w.Peers.Rows.Any(r => r.Contains("dht", StringComparison.Ordinal)), "the peer row says dht");
        Assert.Contains("Peers (1, 1 dht)", await tui.ScreenAsync(), StringComparison.Ordinal);
    }
}
