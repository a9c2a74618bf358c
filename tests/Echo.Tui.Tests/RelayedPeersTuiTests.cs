using Echo.Core;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Tui.Tests;

/// <summary>Relayed peers in the TUI: the peer list says how each peer is reached and follows an upgrade; the status line shows the relays.</summary>
public sealed class RelayedPeersTuiTests
{
    private const string RelayId = "12D3KooWRelay0000000000000000000000000000000Relay1";
    private const string Circuit = "/ip4/127.0.0.1/tcp/4001/p2p/" + RelayId + "/p2p-circuit/p2p/" + NetworkScript.BobId;

    [Fact(Timeout = 30_000)]
    public async Task The_peer_list_shows_a_relayed_peer_via_relay_then_direct_once_upgraded()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync(width: 140, height: 30);
        tui.Network.Inject(new PeerJoined(new PeerInfo(NetworkScript.BobId, Circuit, PeerSource.Manual, tui.Clock.GetUtcNow(), Nick: "bob")
        {
            Relayed = true,
        }));
        await tui.WaitForScreenAsync("manual via relay");

        // /peers says why it stays relayed once the network knows.
        tui.Network.Inject(new PeerRelayReason(NetworkScript.BobId, "hole punch failed after 3 attempts, symmetric NAT suspected"));
        await tui.WaitUntilAsync(_ => tui.Manager.Peers.Any(p => p.RelayReason is not null), "the reason is known");
        using ChatSubscription feed = tui.Manager.Subscribe();
        await tui.SubmitAsync("/peers");
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TuiHarness.Patience);
        NoticeEvent? list = null;
        while (list is null)
            list = await feed.Events.ReadAsync(deadline.Token) is NoticeEvent { Text: var text } n && text.StartsWith("1 peer(s)", StringComparison.Ordinal) ? n : null;
        Assert.EndsWith("  via relay (hole punch failed after 3 attempts, symmetric NAT suspected)", list.Text, StringComparison.Ordinal);

        // A direct connection replaced the relayed one.
        tui.Network.Inject(new PeerPathChanged(NetworkScript.BobId, "/ip4/127.0.0.1/tcp/4002/p2p/" + NetworkScript.BobId, Relayed: false));
        await tui.WaitForScreenAsync("manual direct");
        PeerInfo bob = Assert.Single(tui.Manager.Peers);
        Assert.False(bob.Relayed);
        Assert.Null(bob.RelayReason);
        Assert.DoesNotContain("manual via relay", await tui.ScreenAsync(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task The_status_line_shows_the_relays_in_use_and_no_relay_while_private()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync(width: 200, height: 30);
        tui.Network.Inject(new ReachabilityChanged(NodeReachability.Private, ["/ip4/192.168.1.2/tcp/4001"]));
        await tui.WaitUntilAsync(w => w.Status.Shown.Contains(" | private | no relay", StringComparison.Ordinal), "private without a relay");

        tui.Network.Inject(new RelaysChanged(["/ip4/203.0.113.7/tcp/4001/p2p/" + RelayId]));
        await tui.WaitUntilAsync(w => w.Status.Shown.Contains(" | private | relays …00Relay1", StringComparison.Ordinal), "the relay is shown");
        Assert.Equal(["/ip4/203.0.113.7/tcp/4001/p2p/" + RelayId], tui.Manager.RelaysInUse);
    }
}
