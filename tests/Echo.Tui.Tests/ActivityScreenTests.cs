using System.Text;
using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Ports;
using Echo.TestKit;
using Echo.Tui.Rendering;
using Echo.Tui.Views;
using Terminal.Gui.Input;

namespace Echo.Tui.Tests;

/// <summary>Mentions, the bell and title, the room list's and status line's activity, the read marker, dates and /search on the screen.</summary>
public sealed class ActivityScreenTests
{
    private const int Timeout = 30_000;

    /// <summary>What the window writes to the terminal as it is (bell, title), collected on the UI thread.</summary>
    private static async Task<StringBuilder> CaptureRawAsync(TuiHarness tui)
    {
        StringBuilder raw = new();
        await tui.OnUiAsync(() => tui.Window.WriteRaw = text =>
        {
            lock (raw)
                raw.Append(text);
        });
        return raw;
    }

    private static string Read(StringBuilder raw)
    {
        lock (raw)
            return raw.ToString();
    }

    private static int Bells(StringBuilder raw) => Read(raw).Count(c => c == '\a') - Titles(raw);

    private static int Titles(StringBuilder raw) => Read(raw).Split("\u001b]2;").Length - 1;

    [Fact]
    public void A_line_that_mentions_the_nick_is_highlighted_and_own_lines_are_not()
    {
        ChatMessage fromBob = new("m1", "lobby", NetworkScript.BobId, "bob", "hey Alice, look", DateTimeOffset.UnixEpoch, MessageOrigin.Room);
        DisplayLine line = LineFormatter.Message(fromBob, "me", TimeZoneInfo.Utc, "alice");
        Assert.Equal(Tone.Mention, line.Spans[0].Tone); // the time column marks the line
        Assert.Contains(line.Spans, s => s is { Text: "Alice", Tone: Tone.Mention });
        Assert.Equal("00:00:00 <bob> hey Alice, look", line.PlainText);

        DisplayLine own = LineFormatter.Message(fromBob with { SenderId = "me" }, "me", TimeZoneInfo.Utc, "alice");
        Assert.DoesNotContain(own.Spans, s => s.Tone == Tone.Mention);
        Assert.DoesNotContain(LineFormatter.Message(fromBob with { Text = "malice" }, "me", TimeZoneInfo.Utc, "alice").Spans,
            s => s.Tone == Tone.Mention);
    }

    [Fact]
    public void A_line_from_another_day_shows_its_date()
    {
        ChatMessage message = new("m1", "lobby", "b", "bob", "hi", new DateTimeOffset(2026, 1, 1, 23, 30, 0, TimeSpan.Zero), MessageOrigin.Room);
        Assert.StartsWith("2026-01-01 23:30:00 ", LineFormatter.Message(message, "me", TimeZoneInfo.Utc, today: new DateOnly(2026, 1, 2)).PlainText);
        Assert.StartsWith("23:30:00 ", LineFormatter.Message(message, "me", TimeZoneInfo.Utc, today: new DateOnly(2026, 1, 1)).PlainText);
    }

    [Fact]
    public void The_title_carries_no_control_character()
    {
        Assert.Equal("[1] echo: #x]2;evil", ChatWindow.OscText("[1] echo: #x\u001b]2;evil\a\u009c"));
    }

    [Fact(Timeout = Timeout)]
    public async Task A_mention_elsewhere_rings_once_counts_in_the_title_and_the_room_list_until_seen()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        StringBuilder raw = await CaptureRawAsync(tui);
        await tui.Manager.JoinAsync("ops", TestContext.Current.CancellationToken);
        await tui.WaitUntilAsync(w => w.CurrentRoom == "ops", "ops is current");

        tui.Say(NetworkScript.BobId, "bob", "lobby", "just chatting");
        tui.Say(NetworkScript.BobId, "bob", "lobby", "alice: are you there?");
        await tui.WaitUntilAsync(w => w.Rooms.Rows.Any(r => r.Contains("lobby (2, 1!)")), "lobby shows 2 unread, 1 mention");
        await tui.WaitUntilAsync(w => w.TerminalTitle == "[1] echo: #ops", "the title counts the mention");
        Assert.Equal(1, Bells(raw));
        Assert.Contains("\u001b]2;[1] echo: #ops\a", Read(raw));

        await tui.PressAsync(Key.D1.WithAlt);
        await tui.WaitUntilAsync(w => w.CurrentRoom == "lobby", "lobby is current");
        await tui.WaitUntilAsync(w => w.TerminalTitle == "echo: #lobby" && w.Unseen.Count == 0, "seen: the count is gone");
        Assert.EndsWith("\u001b]2;echo: #lobby\a", Read(raw));

        // Our own line with our nick, a plain line: no bell.
        await tui.SubmitAsync("alice is me");
        await tui.WaitForScreenAsync("<alice> alice is me");
        tui.Say(NetworkScript.BobId, "bob", "lobby", "no mention here");
        await tui.WaitForScreenAsync("<bob> no mention here");
        Assert.Equal(1, Bells(raw));
    }

    [Fact(Timeout = Timeout)]
    public async Task With_the_bell_off_a_mention_still_counts_but_does_not_ring()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        StringBuilder raw = await CaptureRawAsync(tui);
        await tui.OnUiAsync(() => tui.Window.Bell = false);
        await tui.Manager.JoinAsync("ops", TestContext.Current.CancellationToken);
        await tui.WaitUntilAsync(w => w.CurrentRoom == "ops", "ops is current");
        tui.Say(NetworkScript.BobId, "bob", "lobby", "ALICE!");
        await tui.WaitUntilAsync(w => w.TerminalTitle == "[1] echo: #ops", "the title counts the mention");
        Assert.Equal(0, Bells(raw));
    }

    [Fact(Timeout = Timeout)]
    public async Task A_direct_message_rings_and_is_marked_in_the_room_list_and_the_narrow_activity_list()
    {
        FakeDirectNetwork direct = new();
        direct.Connected[NetworkScript.BobId] = true;
        await using TuiHarness tui = await TuiHarness.StartAsync(width: 60, height: 15, direct: direct);
        StringBuilder raw = await CaptureRawAsync(tui);
        await tui.Manager.JoinAsync("ops", TestContext.Current.CancellationToken);
        await tui.WaitUntilAsync(w => w.CurrentRoom == "ops", "ops is current");

        tui.Say(NetworkScript.BobId, "bob", "lobby", "hello all");
        tui.Say(NetworkScript.BobId, "bob", "lobby", "hi alice");
        direct.Inject(new DirectArrived(NetworkScript.BobId, new DirectEnvelope(DirectIds.New(), "bob", tui.Clock.GetUtcNow(), "psst", null)));

        await tui.WaitUntilAsync(w => w.Rooms.Rows.Any(r => r.Contains("@bob (1 DM)")), "@bob is marked as a DM");
        // Narrow: no side panels, the status line lists the activity (room 1 with a mention, the DM).
        await tui.WaitUntilAsync(w => w.Status.Shown.Contains("Act: 1!,@bob", StringComparison.Ordinal), "the activity list");
        string screen = await tui.ScreenAsync();
        Assert.Contains("Act: 1!,@bob", TuiHarness.Rows(screen)[^1]);
        await tui.WaitUntilAsync(w => w.TerminalTitle == "[2] echo: #ops", "a mention and a DM in the title");
        Assert.Equal(2, Bells(raw));
    }

    [Fact(Timeout = Timeout)]
    public async Task Lines_that_came_while_away_follow_a_read_marker_and_a_new_day_gets_its_line()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        DateTimeOffset now = tui.Clock.GetUtcNow();
        tui.Say(NetworkScript.BobId, "bob", "lobby", "yesterday's line", now.AddDays(-1));
        tui.Say(NetworkScript.BobId, "bob", "lobby", "seen before");
        await tui.WaitForScreenAsync("<bob> seen before");
        await tui.Manager.JoinAsync("ops", TestContext.Current.CancellationToken);
        await tui.WaitUntilAsync(w => w.CurrentRoom == "ops", "ops is current");
        tui.Say(NetworkScript.BobId, "bob", "lobby", "said while away");
        await tui.WaitUntilAsync(w => w.Rooms.Rows.Any(r => r.Contains("lobby (1)")), "one unread in lobby");

        await tui.PressAsync(Key.D1.WithAlt);
        string screen = await tui.WaitForScreenAsync("<bob> said while away");
        string[] rows = TuiHarness.Rows(screen);
        int day = Array.FindIndex(rows, r => r.Contains("── Friday, 2026-01-02 ──"));
        int yesterday = Array.FindIndex(rows, r => r.Contains("2026-01-01 05:04:05 <bob> yesterday's line"));
        int before = Array.FindIndex(rows, r => r.Contains("<bob> seen before"));
        int marker = Array.FindIndex(rows, r => r.Contains("── new ──"));
        int after = Array.FindIndex(rows, r => r.Contains("<bob> said while away"));
        Assert.True(yesterday >= 0 && yesterday < day && day < before && before < marker && marker < after,
            $"yesterday {yesterday}, day {day}, before {before}, marker {marker}, after {after}\n{screen}");
        Assert.Contains("05:04:05 <bob> seen before", rows[before]);
        Assert.DoesNotContain("2026-01-02 05:04:05", screen); // today's lines carry no date

        // Away and back again: the marker moves to the newest unseen line.
        await tui.PressAsync(Key.D2.WithAlt);
        await tui.WaitUntilAsync(w => w.CurrentRoom == "ops", "ops is current");
        tui.Say(NetworkScript.BobId, "bob", "lobby", "second absence");
        await tui.WaitUntilAsync(w => w.Rooms.Rows.Any(r => r.Contains("lobby (1)")), "one unread in lobby");
        await tui.PressAsync(Key.D1.WithAlt);
        rows = TuiHarness.Rows(await tui.WaitForScreenAsync("<bob> second absence"));
        Assert.Single(rows, r => r.Contains("── new ──"));
        Assert.True(Array.FindIndex(rows, r => r.Contains("── new ──")) > Array.FindIndex(rows, r => r.Contains("said while away")));
    }

    [Fact(Timeout = Timeout)]
    public async Task Search_lists_the_rooms_stored_lines_with_their_dates_and_F3_jumps_to_one()
    {
        FakeMessageStore store = new();
        DateTimeOffset old = new(2025, 6, 1, 10, 0, 0, TimeSpan.Zero);
        store.Seed([.. Enumerable.Range(0, 50).Select(i => new ChatMessage($"{NetworkScript.BobId}:{i:x16}", "lobby",
            NetworkScript.BobId, "bob", i % 10 == 3 ? $"the deploy key {i}" : $"filler {i}", old.AddMinutes(i), MessageOrigin.Room))], "lobby");
        await using TuiHarness tui = await TuiHarness.StartAsync(store: store);
        await tui.WaitForScreenAsync("<bob> filler 49");

        await tui.PressAsync(Key.R.WithCtrl);
        await tui.WaitUntilAsync(w => w.Input.Text == "/search ", "Ctrl+R starts a search");
        await tui.TypeAsync("DEPLOY");
        await tui.PressAsync(Key.Enter);
        string screen = await tui.WaitForScreenAsync("5 lines in #lobby contain \"DEPLOY\"");
        Assert.Contains("[1] 2025-06-01 12:03:00 <bob> the deploy key 3", screen);
        Assert.Contains("[5] 2025-06-01 12:43:00 <bob> the deploy key 43", screen);

        await tui.PressAsync(Key.F3);
        await tui.WaitUntilAsync(w => w.Scrollback.Offset > 0, "scrolled to the first result");
        IReadOnlyList<string> rows = await tui.OnUiAsync(() => tui.Window.Scrollback.VisibleRows());
        Assert.Contains(rows, r => r.EndsWith("<bob> the deploy key 3", StringComparison.Ordinal) && !r.Contains('['));

        await tui.SubmitAsync("/search nothing-like-this");
        await tui.WaitForScreenAsync("no line in #lobby contains \"nothing-like-this\"");
    }

    [Fact(Timeout = Timeout)]
    public async Task Search_jumps_to_results_older_than_the_lines_loaded_and_n_N_Enter_F3_navigate_them()
    {
        FakeMessageStore store = new();
        DateTimeOffset old = new(2025, 6, 1, 10, 0, 0, TimeSpan.Zero);
        store.Seed([.. Enumerable.Range(0, 300).Select(i => new ChatMessage($"{NetworkScript.BobId}:{i:x16}", "lobby",
            NetworkScript.BobId, "bob", i is 20 or 120 or 250 ? $"the needle {i}" : $"filler {i}", old.AddMinutes(i), MessageOrigin.Room))], "lobby");
        await using TuiHarness tui = await TuiHarness.StartAsync(store: store);
        await tui.WaitForScreenAsync("<bob> filler 299");
        Assert.Equal($"{NetworkScript.BobId}:{200:x16}", (await tui.OnUiAsync(() => tui.Window.OldestShown("lobby")))?.Id); // 100 loaded

        await tui.SubmitAsync("/search needle");
        await tui.WaitForScreenAsync("3 lines in #lobby contain \"needle\"");
        await tui.WaitUntilAsync(w => w.Searching, "the search is on");

        // Enter on the empty line: the first result, 180 lines older than the oldest loaded.
        await tui.PressAsync(Key.Enter);
        await tui.WaitUntilAsync(w => w.Scrollback.VisibleRows().Any(r => r.EndsWith("<bob> the needle 20", StringComparison.Ordinal)),
            "the oldest result loaded and shown");
        Assert.Equal((1, 3), await tui.OnUiAsync(() => tui.Window.SearchPosition));
        Assert.Contains("search \"needle\" 1/3", await tui.ScreenAsync());

        await tui.PressAsync(Key.N);   // n: the next one
        await tui.WaitUntilAsync(w => w.Scrollback.VisibleRows().Any(r => r.EndsWith("<bob> the needle 120", StringComparison.Ordinal)),
            "the second result");
        Assert.Equal((2, 3), await tui.OnUiAsync(() => tui.Window.SearchPosition));
        await tui.PressAsync(Key.F3);
        await tui.WaitUntilAsync(w => w.SearchPosition.At == 3
            && w.Scrollback.VisibleRows().Any(r => r.EndsWith("<bob> the needle 250", StringComparison.Ordinal)), "the third result");
        await tui.PressAsync(Key.N.WithShift);   // N: back
        await tui.WaitUntilAsync(w => w.SearchPosition.At == 2
            && w.Scrollback.VisibleRows().Any(r => r.EndsWith("<bob> the needle 120", StringComparison.Ordinal)), "back to the second");
        await tui.PressAsync(Key.F3.WithShift);
        await tui.PressAsync(Key.F3.WithShift);   // wraps around to the last
        await tui.WaitUntilAsync(w => w.SearchPosition.At == 3, "wrapped to the last");
        Assert.Equal(string.Empty, await tui.OnUiAsync(() => tui.Window.Input.Text));   // n and N were no text

        // Esc ends the search: n is a letter again.
        await tui.PressAsync(Key.Esc);
        await tui.WaitUntilAsync(w => !w.Searching && w.Scrollback.Offset == 0, "the search ended");
        await tui.PressAsync(Key.N);
        await tui.WaitUntilAsync(w => w.Input.Text == "n", "n typed");
    }

    [Fact(Timeout = Timeout)]
    public async Task PageUp_puts_a_day_change_line_in_the_older_page_and_above_the_lines_shown()
    {
        FakeMessageStore store = new();
        DateTimeOffset saturday = new(2025, 5, 31, 21, 0, 0, TimeSpan.Zero);   // 23:00 local (+02): line 30 is past midnight
        DateTimeOffset monday = new(2025, 6, 2, 8, 0, 0, TimeSpan.Zero);
        store.Seed([.. Enumerable.Range(0, 150).Select(i => new ChatMessage($"{NetworkScript.BobId}:{i:x16}", "lobby",
            NetworkScript.BobId, "bob", $"line {i}", i < 50 ? saturday.AddMinutes(2 * i) : monday.AddMinutes(i), MessageOrigin.Room))], "lobby");
        await using TuiHarness tui = await TuiHarness.StartAsync(store: store, height: 200);
        await tui.WaitForScreenAsync("<bob> line 149");
        Assert.DoesNotContain("2025-06-02 ──", await tui.ScreenAsync());   // one day loaded: no day line yet

        await tui.PressAsync(Key.PageUp);
        await tui.WaitUntilAsync(w => w.OldestShown("lobby")?.Id == $"{NetworkScript.BobId}:{0:x16}", "the older page loaded");
        string[] rows = TuiHarness.Rows(string.Join('\n', await tui.OnUiAsync(() => tui.Window.Scrollback.VisibleRows())));
        int sunday = Array.FindIndex(rows, r => r.Contains("── Sunday, 2025-06-01 ──"));   // inside the page
        int mondayLine = Array.FindIndex(rows, r => r.Contains("── Monday, 2025-06-02 ──"));   // between the page and what was shown
        int line29 = Array.FindIndex(rows, r => r.EndsWith("<bob> line 29", StringComparison.Ordinal));
        int line30 = Array.FindIndex(rows, r => r.EndsWith("<bob> line 30", StringComparison.Ordinal));
        int line49 = Array.FindIndex(rows, r => r.EndsWith("<bob> line 49", StringComparison.Ordinal));
        int line50 = Array.FindIndex(rows, r => r.EndsWith("<bob> line 50", StringComparison.Ordinal));
        Assert.True(line29 >= 0 && sunday == line29 + 1 && line30 == sunday + 1 && line49 < mondayLine && mondayLine < line50,
            $"line 29 {line29}, sunday {sunday}, line 30 {line30}, line 49 {line49}, monday {mondayLine}, line 50 {line50}\n{string.Join('\n', rows)}");
        Assert.Single(rows, r => r.Contains("── Monday"));
        Assert.Single(rows, r => r.Contains("── Sunday"));
    }
}
