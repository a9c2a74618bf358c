using System.Drawing;
using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Commands;
using Echo.Core.Events;
using Echo.Core.Ports;
using Echo.Tui.Views;
using Terminal.Gui.Drawing;
using Terminal.Gui.Input;
using Terminal.Gui.Testing;
using Attribute = Terminal.Gui.Drawing.Attribute;

namespace Echo.Tui.Tests;

public sealed class ChatWindowTests
{
    private const int Timeout = 30_000;

    [Fact(Timeout = Timeout)]
    public async Task Typed_line_is_published_and_shown_and_the_input_is_cleared()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        Assert.True(await tui.OnUiAsync(() => tui.Window.Input.HasFocus), "the input line has focus at start");

        await tui.SubmitAsync("hello world");

        string screen = await tui.WaitForScreenAsync("<alice> hello world");
        ChatMessage sent = Assert.Single(tui.Network.Published);
        Assert.Equal(("lobby", "hello world"), (sent.Room, sent.Text));
        string time = TimeZoneInfo.ConvertTime(sent.Timestamp, TuiHarness.Zone).ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"{time} <alice> hello world", screen); // the time in the +02:00 test zone
        Assert.Equal("", await tui.OnUiAsync(() => tui.Window.Input.Text));
    }

    [Fact(Timeout = Timeout)]
    public async Task Up_and_Down_recall_submitted_lines_and_the_draft()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        await tui.SubmitAsync("one");
        await tui.SubmitAsync("two");
        await tui.TypeAsync("dra");

        await tui.PressAsync(Key.CursorUp);
        Assert.Equal("two", await tui.OnUiAsync(() => tui.Window.Input.Text));
        await tui.PressAsync(Key.CursorUp);
        Assert.Equal("one", await tui.OnUiAsync(() => tui.Window.Input.Text));
        await tui.PressAsync(Key.CursorUp);
        Assert.Equal("one", await tui.OnUiAsync(() => tui.Window.Input.Text));
        await tui.PressAsync(Key.CursorDown);
        Assert.Equal("two", await tui.OnUiAsync(() => tui.Window.Input.Text));
        await tui.PressAsync(Key.CursorDown);
        Assert.Equal("dra", await tui.OnUiAsync(() => tui.Window.Input.Text));

        // A recalled line is sent again as it is.
        await tui.PressAsync(Key.CursorUp);
        await tui.PressAsync(Key.Enter);
        await tui.WaitUntilAsync(_ => tui.Network.Published.Count == 3, "the recalled line was sent");
        Assert.Equal(["one", "two", "two"], tui.Network.Published.Select(m => m.Text));
    }

    [Fact(Timeout = Timeout)]
    public async Task A_peers_message_shows_with_local_time_and_nick()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();

        tui.Say(NetworkScript.BobId, "bob", "lobby", "hi alice", new DateTimeOffset(2026, 5, 6, 21, 30, 15, TimeSpan.Zero));

        string screen = await tui.WaitForScreenAsync("<bob> hi alice");
        Assert.Contains("23:30:15 <bob> hi alice", screen);
    }

    [Fact(Timeout = Timeout)]
    public async Task Own_and_peer_nicks_are_drawn_differently()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        await tui.SubmitAsync("mine");
        tui.Say(NetworkScript.BobId, "bob", "lobby", "theirs");
        await tui.WaitForScreenAsync("<bob> theirs");

        Cell[,] cells = await tui.CellsAsync();
        Attribute own = AttributeAt(cells, "<alice> mine");
        Attribute peer = AttributeAt(cells, "<bob> theirs");
        Assert.True(own.Style.HasFlag(TextStyle.Underline), $"own nick style {own}");
        Assert.NotEqual(own, peer);
    }

    [Fact(Timeout = Timeout)]
    public async Task Switching_rooms_shows_that_rooms_messages()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        await tui.SubmitAsync("/join dev");
        await tui.WaitUntilAsync(w => w.CurrentRoom == "dev", "dev is the current room");
        await tui.SubmitAsync("said in dev");
        await tui.WaitForScreenAsync("<alice> said in dev");
        tui.Say(NetworkScript.BobId, "bob", "lobby", "said in lobby");

        await tui.WaitUntilAsync(w => w.Rooms.Rows.Any(r => r.Contains("lobby (1)")), "lobby shows one unread message");
        Assert.DoesNotContain("said in lobby", await tui.ScreenAsync());
        Assert.Contains(tui.Window.Rooms.Rows, r => r.Contains("#dev"));

        await tui.PressAsync(Key.N.WithCtrl);
        string lobby = await tui.WaitForScreenAsync("<bob> said in lobby");
        Assert.DoesNotContain("said in dev", lobby);
        Assert.Equal("lobby", tui.Manager.CurrentRoom);
        Assert.Contains("#lobby", TuiHarness.Rows(lobby)[^1]); // the status line

        await tui.PressAsync(Key.D2.WithAlt);
        string dev = await tui.WaitForScreenAsync("<alice> said in dev");
        Assert.DoesNotContain("said in lobby", dev);

        await tui.PressAsync(Key.P.WithCtrl);
        await tui.WaitUntilAsync(w => w.CurrentRoom == "lobby", "Ctrl+P went back to lobby");
    }

    [Fact(Timeout = Timeout)]
    public async Task Choosing_a_room_in_the_room_list_switches_to_it()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        await tui.SubmitAsync("/join dev");
        await tui.WaitUntilAsync(w => w.CurrentRoom == "dev", "dev is the current room");

        await tui.PressAsync(Key.F6);
        Assert.True(await tui.OnUiAsync(() => tui.Window.Rooms.HasFocus), "F6 moves to the room list");
        await tui.PressAsync(Key.CursorUp);
        await tui.PressAsync(Key.Enter);

        await tui.WaitUntilAsync(w => w.CurrentRoom == "lobby", "lobby was chosen");
        Assert.Equal("lobby", tui.Manager.CurrentRoom);
        Assert.True(await tui.OnUiAsync(() => tui.Window.Input.HasFocus), "focus returns to the input line");

        // A click on the second row of the list (inside the frame at the right edge) picks dev.
        await tui.OnUiAsync(() => tui.App.InjectSequence(InputInjectionExtensions.LeftButtonClick(new Point(100 - ChatWindow.SideWidth + 3, 2))));
        await tui.WaitUntilAsync(w => w.CurrentRoom == "dev", "dev was clicked");
    }

    [Fact(Timeout = Timeout)]
    public async Task Peers_show_in_the_peer_list_with_nick_id_round_trip_and_marker()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();

        tui.Network.ConnectPeer(NetworkScript.BobId, tui.Clock.GetUtcNow());
        await tui.WaitUntilAsync(w => w.Peers.Rows.Contains("?"), "bob is listed without a nick");
        Assert.Contains(tui.Window.Peers.Rows, r => r.Contains("…0000Bob1"));
        Assert.Contains("1 peer", TuiHarness.Rows(await tui.ScreenAsync())[^1]);

        tui.Say(NetworkScript.BobId, "bob", "lobby", "hi");
        tui.Network.Inject(new PeerChanged(NetworkScript.BobId, TimeSpan.FromMilliseconds(12.3), IsEchoGo: true));
        await tui.WaitUntilAsync(w => w.Peers.Rows.Contains("bob [go]"), "bob's nick and echo-go marker are listed");
        Assert.Contains(tui.Window.Peers.Rows, r => r.Contains("…0000Bob1 12 ms"));
        Assert.Contains("Peers (1)", await tui.ScreenAsync());

        tui.Network.Inject(new PeerLeft(NetworkScript.BobId));
        await tui.WaitUntilAsync(w => !w.Peers.Rows.Any(), "bob is gone from the list");
        Assert.Contains("0 peers", TuiHarness.Rows(await tui.ScreenAsync())[^1]);
    }

    [Fact(Timeout = Timeout)]
    public async Task Errors_show_inline_and_the_ui_keeps_running()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync(width: 160);
        tui.Network.Connect = address => throw new ChatNetworkException("dial failed: connection refused");

        await tui.SubmitAsync("/connect /ip4/127.0.0.1/tcp/1");
        string screen = await tui.WaitForScreenAsync("!! cannot connect to /ip4/127.0.0.1/tcp/1: dial failed: connection refused");
        await tui.SubmitAsync("/join no spaces");
        screen = await tui.WaitForScreenAsync("!! usage: /join <room>");

        await tui.SubmitAsync("still here");
        await tui.WaitForScreenAsync("<alice> still here");
        Assert.False(tui.Run.IsCompleted);
    }

    [Fact(Timeout = Timeout)]
    public async Task Multi_line_notices_show_one_row_per_line()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync(width: 160);

        await tui.SubmitAsync("/help");

        string screen = await tui.WaitForScreenAsync(CommandParser.HelpLines[^1]);
        string[] rows = TuiHarness.Rows(screen);
        foreach (string line in CommandParser.HelpLines)
            Assert.Contains(rows, r => r.Contains("-- " + line, StringComparison.Ordinal));
    }

    [Fact(Timeout = Timeout)]
    public async Task Status_line_shows_id_address_peers_room_and_nick()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync(width: 160);
        await tui.SubmitAsync("/nick carol");
        await tui.WaitForScreenAsync("you are now carol");

        string status = TuiHarness.Rows(await tui.ScreenAsync())[^1];

        Assert.Contains("…00000000", status);
        Assert.Contains("/ip4/127.0.0.1/tcp/4001", status);
        Assert.DoesNotContain("/p2p/", status);
        Assert.Contains("0 peers", status);
        Assert.Contains("#lobby", status);
        Assert.Contains("carol", status);
        Assert.Contains("^N/^P", status);
    }

    [Fact(Timeout = Timeout)]
    public async Task Hostile_strings_reach_the_screen_escaped_without_control_characters()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync(width: 200, height: 40);
        const string payload = "a\u001b[2J\u001b]0;owned\u0007b\rc\u202ed\u2066e\u009b31mf\u0000g\u007f";
        string hostileId = "12D3KooW\x1b[31mEvil\x07";

        tui.Network.Inject(new Echo.Core.Ports.PeerJoined(new Echo.Core.Peers.PeerInfo(
            hostileId, "/ip4/1.2.3.4/tcp/1\x1b]8;;x\x07", Echo.Core.Peers.PeerSource.Inbound, tui.Clock.GetUtcNow())));
        tui.Say(hostileId, "ni\x1b[1mck\u202e", "lobby", payload);
        tui.Say(NetworkScript.BobId, "bob", "lobby", "go " + payload, origin: MessageOrigin.EchoGo);
        await tui.WaitForScreenAsync("<bob> go ");

        Cell[,] cells = await tui.CellsAsync();
        for (int row = 0; row < cells.GetLength(0); row++)
        {
            for (int column = 0; column < cells.GetLength(1); column++)
            {
                string grapheme = cells[row, column].Grapheme ?? "";
                Assert.False(grapheme.Any(IsUnsafe), $"cell {row},{column} holds U+{(int)grapheme.FirstOrDefault(IsUnsafe):X4}");
            }
        }

        string screen = TuiHarness.Text(cells);
        string escaped = @"a\x1b[2J\x1b]0;owned\x07b\rc\u202ed\u2066e\x9b31mf\x00g\x7f";
        Assert.Contains("> " + escaped, screen, StringComparison.Ordinal); // the text
        Assert.Contains(@"<ni\x1b[1mck\u202e>", screen, StringComparison.Ordinal); // the nick in the scrollback
        Assert.Contains(@"ni\x1b[1mck\u202e", string.Join('\n', tui.Window.Peers.Rows), StringComparison.Ordinal); // and in the peer list
        Assert.Contains(@"/ip4/1.2.3.4/tcp/1\x1b]8;;x\x07", screen, StringComparison.Ordinal); // the address in the connect notice

        // What goes to the terminal: only Terminal.Gui's own sequences, none of the payload's.
        string ansi = await tui.OnUiAsync(() => tui.App.Driver!.ToAnsi());
        Assert.DoesNotContain('\x07', ansi);
        Assert.DoesNotContain('\r', ansi);
        Assert.DoesNotContain('\u009b', ansi);
        Assert.DoesNotContain('\u202e', ansi);
        Assert.DoesNotContain("\x1b]", ansi, StringComparison.Ordinal);
        Assert.DoesNotContain("\x1b[2J", ansi, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeout)]
    public async Task Slash_quit_ends_the_ui()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();

        await tui.SubmitAsync("/quit");

        await tui.Run.WaitAsync(TuiHarness.Patience, TestContext.Current.CancellationToken);
        Assert.True(tui.Manager.QuitRequested.IsCancellationRequested);
    }

    [Fact(Timeout = Timeout)]
    public async Task Ctrl_Q_and_Ctrl_C_end_the_ui()
    {
        foreach (Key key in new[] { Key.Q.WithCtrl, Key.C.WithCtrl })
        {
            await using TuiHarness tui = await TuiHarness.StartAsync();
            await tui.TypeAsync("unsent");

            await tui.PressAsync(key);

            await tui.Run.WaitAsync(TuiHarness.Patience, TestContext.Current.CancellationToken);
            Assert.True(tui.Manager.QuitRequested.IsCancellationRequested, $"{key} asked the chat to quit");
            Assert.Empty(tui.Network.Published);
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task Cancelling_ends_the_ui_without_quitting_the_chat()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();

        await tui.StopUiAsync();

        Assert.True(tui.Run.IsCompletedSuccessfully);
        Assert.False(tui.Manager.QuitRequested.IsCancellationRequested);
    }

    [Fact(Timeout = Timeout)]
    public async Task Messages_from_before_the_ui_started_are_shown_once()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync(beforeUi: async (network, manager) =>
        {
            using ChatSubscription feed = manager.Subscribe();
            network.Say(NetworkScript.BobId, "bob", "lobby", "said before the ui", DateTimeOffset.UtcNow);
            while (await feed.Events.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TuiHarness.Patience) is not MessageEvent)
            {
            }
        });
        tui.Say(NetworkScript.BobId, "bob", "lobby", "said after");

        string screen = await tui.WaitForScreenAsync("<bob> said after");
        Assert.Single(TuiHarness.Rows(screen), r => r.Contains("<bob> said before the ui", StringComparison.Ordinal));
    }

    [Fact(Timeout = Timeout)]
    public async Task Layout_follows_the_screen_size()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync(width: 100, height: 30);
        string wide = await tui.WaitForScreenAsync("Rooms");
        Assert.Equal(30, TuiHarness.Rows(wide).Count(r => r.Length > 0));

        await tui.OnUiAsync(() => tui.App.Driver!.SetScreenSize(50, 16));
        await tui.WaitUntilAsync(w => w.Frame.Width == 50 && w.Frame.Height == 16, "the window took the new size");
        string narrow = await tui.ScreenAsync();
        string[] rows = TuiHarness.Rows(narrow);
        Assert.DoesNotContain("Rooms", narrow); // no room for the side panel
        Assert.StartsWith(">", rows[14]);
        Assert.Contains("#lobby", rows[15]);

        await tui.OnUiAsync(() => tui.App.Driver!.SetScreenSize(120, 40));
        await tui.WaitUntilAsync(w => w.Frame.Width == 120, "the window took the new size");
        Assert.Contains("Rooms", await tui.ScreenAsync());
    }

    [Fact(Timeout = Timeout)]
    public async Task A_burst_of_messages_all_arrive_in_order()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        await tui.BobSaysAsync(1000, "burst");

        int[] shown = [.. (await tui.OnUiAsync(() => tui.Window.Scrollback.VisibleRows()))
            .Select(r => System.Text.RegularExpressions.Regex.Match(r, @"<bob> burst (\d+)$"))
            .Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))];
        Assert.True(shown.Length > 20, $"{shown.Length} burst lines on screen");
        Assert.Equal(Enumerable.Range(1000 - shown.Length, shown.Length), shown);
    }

    [Fact(Timeout = Timeout)]
    public async Task PageUp_scrolls_back_and_PageDown_returns()
    {
        await using TuiHarness tui = await TuiHarness.StartAsync();
        await tui.BobSaysAsync(100, "line");

        await tui.PressAsync(Key.PageUp);
        string up = await tui.WaitForScreenAsync("more row(s) below");
        Assert.DoesNotContain("line 99", up);

        // A new message while scrolled up does not move what the user reads.
        string before = string.Join('\n', await tui.OnUiAsync(() => tui.Window.Scrollback.VisibleRows()));
        tui.Say(NetworkScript.BobId, "bob", "lobby", "line 100");
        await tui.WaitUntilAsync(w => tui.Manager.RecentMessages("lobby").Count == 101, "line 100 arrived");
        await tui.WaitUntilAsync(w => w.Scrollback.Offset > 0, "still scrolled up");
        string[] after = (await tui.OnUiAsync(() => tui.Window.Scrollback.VisibleRows())).ToArray();
        Assert.Equal(before.Split('\n')[..^1], after[..^1]);

        await tui.PressAsync(Key.PageDown);
        await tui.PressAsync(Key.PageDown);
        await tui.WaitForScreenAsync("<bob> line 100");
    }

    [Fact(Timeout = Timeout)]
    public async Task History_is_shown_at_start_and_PageUp_at_the_top_loads_older_messages()
    {
        Echo.TestKit.FakeMessageStore store = new();
        DateTimeOffset start = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        store.Seed([.. Enumerable.Range(0, 300).Select(i => new ChatMessage($"{NetworkScript.BobId}:{i:x16}", "lobby",
            NetworkScript.BobId, "bob", $"old {i}", start.AddSeconds(i), MessageOrigin.Room))], "lobby");
        await using TuiHarness tui = await TuiHarness.StartAsync(store: store);
        await tui.WaitForScreenAsync("<bob> old 299");

        // Up to the oldest of the 100 loaded at start, then one more PgUp fetches the page before it.
        for (int i = 0; i < 20 && !await tui.OnUiAsync(() => tui.Window.Scrollback.AtTop); i++)
            await tui.PressAsync(Key.PageUp);
        Assert.Contains("<bob> old 200", string.Join('\n', await tui.OnUiAsync(() => tui.Window.Scrollback.VisibleRows())));
        await tui.PressAsync(Key.PageUp);
        await tui.WaitUntilAsync(w => w.OldestShown("lobby")?.Id == $"{NetworkScript.BobId}:{100:x16}", "the page before loaded");
        await tui.PressAsync(Key.PageUp);
        string screen = string.Join('\n', await tui.OnUiAsync(() => tui.Window.Scrollback.VisibleRows()));
        Assert.Contains("<bob> old 199", screen);
        Assert.DoesNotContain("<bob> old 200", screen.Split('\n')[^2]);

        // A message history sync brings later takes its place in time, not the bottom.
        tui.Network.Inject(new HistoryPageFetched("lobby", NetworkScript.BobId,
            [new ChatMessage($"{NetworkScript.BobId}:late", "lobby", NetworkScript.BobId, "bob", "late one", start.AddSeconds(250.5), MessageOrigin.Room)]));
        await tui.PressAsync(Key.Esc);
        await tui.WaitUntilAsync(w => tui.Manager.RecentMessages("lobby").Any(m => m.Text == "late one"), "the late one arrived");
        string bottom = await tui.WaitForScreenAsync("<bob> old 299");
        Assert.DoesNotContain("late one", bottom.Split('\n').SkipWhile(l => !l.Contains("old 299", StringComparison.Ordinal)));
    }

    private static Attribute AttributeAt(Cell[,] cells, string text)
    {
        for (int row = 0; row < cells.GetLength(0); row++)
        {
            string line = string.Concat(Enumerable.Range(0, cells.GetLength(1)).Select(c => cells[row, c].Grapheme));
            int column = line.IndexOf(text, StringComparison.Ordinal);
            if (column >= 0)
                return cells[row, column + 1].Attribute ?? Attribute.Default; // the nick's first letter
        }
        throw new Xunit.Sdk.XunitException($"\"{text}\" is not on the screen");
    }

    private static bool IsUnsafe(char c) =>
        char.IsControl(c) || SafeText.IsFormatControl(c);
}
