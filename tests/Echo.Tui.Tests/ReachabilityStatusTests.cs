using Echo.Core.Ports;

namespace Echo.Tui.Tests;

/// <summary>The status line shows the node's reachability once the network reports one.</summary>
public sealed class ReachabilityStatusTests
{
    [Fact(Timeout = 30_000)]
    public async Task The_status_line_shows_reachability_only_once_reported_and_follows_changes()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        await tui.WaitUntilAsync(w => w.Status.Shown.Contains("peers", StringComparison.Ordinal), "the status line is drawn");
        Assert.DoesNotContain("unknown", await tui.OnUiAsync(() => tui.Window.Status.Shown), StringComparison.Ordinal);

        tui.Network.Inject(new ReachabilityChanged(NodeReachability.Unknown, []));
        await tui.WaitUntilAsync(w => w.Status.Shown.Contains(" | unknown", StringComparison.Ordinal), "unknown is shown");
        tui.Network.Inject(new ReachabilityChanged(NodeReachability.Public, ["/ip4/1.2.3.4/tcp/4001"]));
        await tui.WaitUntilAsync(w => w.Status.Shown.Contains(" | public", StringComparison.Ordinal), "public is shown");
    }
}
