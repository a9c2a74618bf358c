using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.TestKit;
using Echo.Tui.Rendering;
using Terminal.Gui.Input;

namespace Echo.Tui.Tests;

/// <summary>/me actions and away peers as the terminal draws them, and /clear in the terminal.</summary>
public sealed class IrcTuiTests
{
    private const int Timeout = 60_000;
    private const string Me = "12D3KooWMe";
    private static readonly DateTimeOffset Noon = new(2026, 3, 4, 12, 0, 1, TimeSpan.Zero);

    [Fact]
    public void An_action_reads_star_nick_text_in_the_nicks_colour()
    {
        ChatMessage waved = new("b:1", "lobby", "12D3KooWBob", "bob", "waves", Noon, MessageOrigin.Room) { Action = true };

        DisplayLine line = LineFormatter.Message(waved, Me, TuiHarness.Zone);
        DisplayLine own = LineFormatter.Message(waved with { SenderId = Me, SenderNick = "me", Origin = MessageOrigin.Local }, Me, TuiHarness.Zone);

        Assert.Equal("14:00:01 * bob waves", line.PlainText);
        Assert.Contains(line.Spans, s => s.Tone == Tone.Nick && s.Text == "* bob");
        Assert.Equal("14:00:01 * me waves", own.PlainText);
    }

    [Fact]
    public void An_away_peer_is_marked_in_the_peer_list()
    {
        PeerInfo bob = new("12D3KooWBob", "/ip4/127.0.0.1/tcp/1", PeerSource.Inbound, Noon, Nick: "bob");

        Assert.Equal("bob [away]", LineFormatter.Peer(bob with { AwayReason = "lunch" }).Name.PlainText);
        Assert.Equal("bob", LineFormatter.Peer(bob).Name.PlainText);
    }

    [Fact(Timeout = Timeout)]
    public async Task Clear_empties_this_window_only_and_the_chat_keeps_the_messages()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        await tui.SubmitAsync("before the clear");
        await tui.WaitForScreenAsync("<alice> before the clear");

        await tui.SubmitAsync("/clear");
        DateTime deadline = DateTime.UtcNow + TuiHarness.Patience;
        while ((await tui.ScreenAsync()).Contains("before the clear", StringComparison.Ordinal))
            Assert.True(DateTime.UtcNow < deadline, "the window still shows the message after /clear");

        Assert.Single(tui.Network.Published);                      // /clear is not sent anywhere
        Assert.Contains(tui.Manager.RecentMessages("lobby"), m => m.Text == "before the clear");
        await tui.SubmitAsync("after the clear");
        string screen = await tui.WaitForScreenAsync("<alice> after the clear");
        Assert.DoesNotContain("before the clear", screen, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeout)]
    public async Task Me_in_a_direct_conversation_goes_to_its_peer_as_an_action_never_to_a_room_and_theirs_reads_star_nick_text()
    {
        FakeDirectNetwork direct = new();
        direct.Connected[NetworkScript.BobId] = true;
        await using TuiHarness tui = await TuiHarness.StartAsync(direct: direct);
        direct.Inject(new DirectArrived(NetworkScript.BobId, new DirectEnvelope(DirectIds.New(), "bob", tui.Clock.GetUtcNow(), "psst", null)));
        await tui.WaitUntilAsync(w => w.Rooms.Rows.Any(r => r.Contains("@bob", StringComparison.Ordinal)), "@bob is listed");
        await tui.PressAsync(Key.D2.WithAlt);
        await tui.WaitForScreenAsync("<bob> psst");

        await tui.SubmitAsync("/me nods");

        string screen = await tui.WaitForScreenAsync("* alice nods");
        Assert.DoesNotContain("<alice>", screen, StringComparison.Ordinal);
        (string to, DirectEnvelope sent) = Assert.Single(direct.Sent);
        Assert.Equal((NetworkScript.BobId, "nods", true), (to, sent.Text, sent.Action));   // the network writes "* alice nods" with the flag
        Assert.Empty(tui.Network.Published);

        direct.Inject(new DirectArrived(NetworkScript.BobId, new DirectEnvelope(DirectIds.New(), "bob", tui.Clock.GetUtcNow(), "grins", null)
        {
            Action = true,
        }));
        screen = await tui.WaitForScreenAsync("* bob grins");
        Assert.DoesNotContain("<bob> grins", screen, StringComparison.Ordinal);
    }
}
