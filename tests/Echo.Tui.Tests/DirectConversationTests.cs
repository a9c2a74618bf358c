using Echo.Core.Direct;
using Echo.Core.Ports;
using Terminal.Gui.Input;

namespace Echo.Tui.Tests;

public sealed class DirectConversationTests
{
    [Fact(Timeout = 30_000)]
    public async Task A_direct_message_opens_an_at_nick_conversation_where_typed_text_is_private()
    {
        FakeDirectNetwork direct = new();
        direct.Connected[NetworkScript.BobId] = true;
        await using TuiHarness tui = await TuiHarness.StartAsync(direct: direct);

        direct.Inject(new DirectArrived(NetworkScript.BobId, new DirectEnvelope(DirectIds.New(), "bob", tui.Clock.GetUtcNow(), "psst", null)));

        await tui.WaitUntilAsync(w => w.Rooms.Rows.Any(r => r.Contains("@bob (1 DM)")), "@bob is listed with one unread message");
        Assert.DoesNotContain("psst", await tui.ScreenAsync());
        await tui.PressAsync(Key.D2.WithAlt);
        string screen = await tui.WaitForScreenAsync("<bob> psst");
        Assert.Contains("@bob", TuiHarness.Rows(screen)[^1]); // the status line

        await tui.SubmitAsync("just between us");

        await tui.WaitForScreenAsync("<alice> just between us");
        (string to, DirectEnvelope sent) = Assert.Single(direct.Sent);
        Assert.Equal((NetworkScript.BobId, "just between us"), (to, sent.Text));
        Assert.Empty(tui.Network.Published);     // nothing went to the room
    }

    [Fact(Timeout = 30_000)]
    public async Task Conversations_of_earlier_runs_are_listed_at_start_in_order_and_not_as_unread()
    {
        InMemoryDirectStore stored = new();
        DateTimeOffset then = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        CancellationToken ct = TestContext.Current.CancellationToken;
        await stored.AddAsync(new DirectMessage(DirectIds.New(), NetworkScript.BobId, "bob", "from yesterday", then, Outgoing: false,
            Delivered: true), ct);
        await stored.AddAsync(new DirectMessage(DirectIds.New(), NetworkScript.BobId, "alice", "my answer", then.AddMinutes(1),
            Outgoing: true, Delivered: true), ct);
        await using TuiHarness tui = await TuiHarness.StartAsync(direct: new FakeDirectNetwork(), directStore: stored);

        await tui.WaitUntilAsync(w => w.Rooms.Rows.Any(r => r.Contains("@bob")), "@bob is listed");
        Assert.DoesNotContain(tui.Window.Rooms.Rows, r => r.Contains("@bob ("));
        await tui.PressAsync(Key.D2.WithAlt);
        string screen = await tui.WaitForScreenAsync("<alice> my answer");
        int question = screen.IndexOf("<bob> from yesterday", StringComparison.Ordinal);
        Assert.InRange(question, 0, screen.IndexOf("<alice> my answer", StringComparison.Ordinal));
    }
}
