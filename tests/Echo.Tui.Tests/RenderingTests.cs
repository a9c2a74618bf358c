using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Tui.Rendering;

namespace Echo.Tui.Tests;

public sealed class RenderingTests
{
    private const string Me = "12D3KooWMe";
    private static readonly TimeZoneInfo Zone = TuiHarness.Zone;
    private static readonly DateTimeOffset Noon = new(2026, 3, 4, 12, 0, 1, TimeSpan.Zero);

    [Fact]
    public void Own_peer_and_echo_go_messages_are_told_apart()
    {
        DisplayLine own = LineFormatter.Message(Message(Me, "me", "hi", MessageOrigin.Local), Me, Zone);
        DisplayLine peer = LineFormatter.Message(Message("12D3KooWBob", "bob", "hi", MessageOrigin.Room), Me, Zone);
        DisplayLine go = LineFormatter.Message(Message("12D3KooWGo", "gopher", "hi", MessageOrigin.EchoGo), Me, Zone);

        Assert.Equal("14:00:01 <me> hi", own.PlainText);
        Assert.Contains(own.Spans, s => s.Tone == Tone.OwnNick);
        Assert.DoesNotContain(own.Spans, s => s.Tone == Tone.Nick);
        Assert.Contains(peer.Spans, s => s.Tone == Tone.Nick && s.Text == "<bob>");
        Assert.Equal("14:00:01 [go] <gopher> hi", go.PlainText);
        Assert.Contains(go.Spans, s => s.Tone == Tone.EchoGo);
        Assert.Equal(Columns.Of("14:00:01 <bob> "), peer.Indent);
    }

    [Fact]
    public void A_message_the_store_could_not_keep_says_not_saved()
    {
        DisplayLine line = LineFormatter.Message(Message("12D3KooWBob", "bob", "hi", MessageOrigin.Room) with { NotSaved = true }, Me, Zone);
        Assert.Equal("14:00:01 <bob> hi [not saved]", line.PlainText);
        Assert.Contains(line.Spans, s => s.Tone == Tone.Error && s.Text.Contains("not saved", StringComparison.Ordinal));
        Assert.DoesNotContain("not saved", LineFormatter.Message(Message("12D3KooWBob", "bob", "hi", MessageOrigin.Room), Me, Zone).PlainText);
    }

    [Fact]
    public void Nick_colour_depends_on_the_peer_id_only_and_spreads()
    {
        int bob = LineFormatter.NickColour("12D3KooWBob");
        Assert.Equal(bob, LineFormatter.NickColour("12D3KooWBob"));
        Assert.Equal(bob, LineFormatter.Message(Message("12D3KooWBob", "other-nick", "x", MessageOrigin.Room), Me, Zone)
            .Spans.Single(s => s.Tone == Tone.Nick).Colour);
        // Known value: FNV-1a, not the per-process randomised string hash, so colours survive restarts.
        Assert.Equal(unchecked((2166136261u ^ (uint)'a') * 16777619u) % LineFormatter.NickColours, (uint)LineFormatter.NickColour("a"));
        int[] used = Enumerable.Range(0, 200).Select(i => LineFormatter.NickColour($"12D3KooWPeer{i}")).Distinct().ToArray();
        Assert.Equal(LineFormatter.NickColours, used.Length);
    }

    [Fact]
    public void Notices_and_errors_split_into_lines_and_escape_each()
    {
        DisplayLine[] notice = [.. LineFormatter.Notice("first\nsecond\x1b[31m\r", Noon, Zone)];
        DisplayLine[] error = [.. LineFormatter.Error("bad", Noon, Zone)];

        Assert.Equal(["14:00:01 -- first", @"14:00:01 -- second\x1b[31m\r"], notice.Select(l => l.PlainText));
        Assert.All(notice, l => Assert.Equal(Tone.Notice, l.Spans[^1].Tone));
        Assert.Equal("14:00:01 !! bad", Assert.Single(error).PlainText);
        Assert.Equal(Tone.Error, error[0].Spans[^1].Tone);
    }

    [Theory]
    [InlineData("\u001b[2J\u001b]0;title\u0007", @"\x1b[2J\x1b]0;title\x07")]
    [InlineData("a\rb\u0085c\u009bd", @"a\rb\x85c\x9bd")]
    [InlineData("\u202eevil\u2066\u200f", @"\u202eevil\u2066\u200f")]
    public void Every_network_string_is_escaped(string hostile, string shown)
    {
        DisplayLine line = LineFormatter.Message(Message("12D3KooW" + hostile, hostile, hostile, MessageOrigin.Room), Me, Zone);
        (DisplayLine name, DisplayLine detail) = LineFormatter.Peer(
            new PeerInfo("12D3KooW" + hostile, hostile, PeerSource.Inbound, Noon, Nick: hostile, RoundTrip: TimeSpan.FromMilliseconds(3)));

        foreach (DisplayLine shownLine in new[] { line, name, detail })
            Assert.DoesNotContain(shownLine.PlainText, c => char.IsControl(c) || SafeText.IsFormatControl(c));
        Assert.Equal($"14:00:01 <{shown}> {shown}", line.PlainText);
        Assert.Equal(shown, name.PlainText);
        Assert.Contains("3.0 ms", detail.PlainText);
    }

    [Fact]
    public void Peers_show_nick_or_question_mark_short_id_round_trip_and_marker()
    {
        PeerInfo peer = new("12D3KooWAbcdefghijklmnop", "/ip4/1.2.3.4/tcp/1", PeerSource.Manual, Noon);

        (DisplayLine name, DisplayLine detail) = LineFormatter.Peer(peer);
        Assert.Equal("?", name.PlainText);
        Assert.Equal("  …ijklmnop manual direct", detail.PlainText);

        (name, detail) = LineFormatter.Peer(peer with { Nick = "bob", IsEchoGo = true, RoundTrip = TimeSpan.FromMilliseconds(1234) });
        Assert.Equal("bob [go]", name.PlainText);
        Assert.Equal("  …ijklmnop 1.2 s manual direct", detail.PlainText);

        (_, detail) = LineFormatter.Peer(peer with { Source = PeerSource.Mdns });
        Assert.Equal("  …ijklmnop mdns direct", detail.PlainText);
        (_, detail) = LineFormatter.Peer(peer with { Source = PeerSource.Inbound });
        Assert.Equal("  …ijklmnop inbound direct", detail.PlainText);
        (_, detail) = LineFormatter.Peer(peer with { Relayed = true });
        Assert.Equal("  …ijklmnop manual via relay", detail.PlainText);
    }

    [Fact]
    public void An_away_peer_shows_when_it_is_redialed_instead_of_its_round_trip()
    {
        PeerInfo peer = new("12D3KooWAbcdefghijklmnop", "/ip4/1.2.3.4/tcp/1", PeerSource.Remembered, Noon, Nick: "bob",
            RoundTrip: TimeSpan.FromMilliseconds(3), ReconnectAt: Noon.AddSeconds(12.2));

        (DisplayLine name, DisplayLine detail) = LineFormatter.Peer(peer, Noon);
        Assert.Equal("bob", name.PlainText);
        Assert.Equal("  …ijklmnop reconnecting in 13s", detail.PlainText);
        (_, detail) = LineFormatter.Peer(peer, Noon.AddMinutes(1));
        Assert.Equal("  …ijklmnop reconnecting in 0s", detail.PlainText);
    }

    [Fact]
    public void Listen_summary_shows_the_first_address_without_the_id_and_a_count()
    {
        Assert.Equal("not listening", LineFormatter.ListenSummary([]));
        Assert.Equal("/ip4/1.2.3.4/tcp/1", LineFormatter.ListenSummary(["/ip4/1.2.3.4/tcp/1/p2p/12D3KooWMe"]));
        Assert.Equal("/ip4/1.2.3.4/tcp/1 (+2)", LineFormatter.ListenSummary(["/ip4/1.2.3.4/tcp/1/p2p/x", "/ip6/::1/tcp/1/p2p/x", "/dns4/a/tcp/1"]));
        Assert.Equal(@"/dns4/\x1b[2J/tcp/1", LineFormatter.ListenSummary(["/dns4/\u001b[2J/tcp/1"]));
    }

    [Fact]
    public void Wrapping_breaks_at_spaces_and_indents_continuation_rows()
    {
        DisplayLine line = new([new Span("12:00:00 ", Tone.Time), new Span("<bob> ", Tone.Nick), new Span("one two three four five", Tone.Text)], 15);

        string[] rows = [.. Columns.Wrap(line, 30).Select(r => string.Concat(r.Select(s => s.Text)))];

        Assert.Equal(["12:00:00 <bob> one two three ", "               four five"], rows);
        Assert.All(rows, r => Assert.True(Columns.Of(r) <= 30));
    }

    [Fact]
    public void Wrapping_cuts_long_words_counts_wide_characters_and_falls_back_to_the_time_column()
    {
        DisplayLine word = new([new Span("12:00:00 ", Tone.Time), new Span(new string('x', 25), Tone.Text)], 9);
        string[] rows = [.. Columns.Wrap(word, 20).Select(r => string.Concat(r.Select(s => s.Text)))];
        Assert.Equal(["12:00:00 xxxxxxxxxxx", "         xxxxxxxxxxx", "         xxx"], rows);

        DisplayLine wide = new([new Span("日本語日本語", Tone.Text)]);
        rows = [.. Columns.Wrap(wide, 5).Select(r => string.Concat(r.Select(s => s.Text)))];
        Assert.Equal(["日本", "語日", "本語"], rows);

        // A prefix wider than half the row: continuation rows line up under the time column instead.
        DisplayLine longNick = new([new Span("12:00:00 ", Tone.Time), new Span("<" + new string('n', 20) + "> ", Tone.Nick), new Span("text here", Tone.Text)], 32);
        rows = [.. Columns.Wrap(longNick, 30).Select(r => string.Concat(r.Select(s => s.Text)))];
        Assert.Equal(["12:00:00 <nnnnnnnnnnnnnnnnnnnn", "         > text here"], rows);
    }

    [Fact]
    public void Truncate_marks_the_cut()
    {
        Assert.Equal("abc", Columns.Truncate("abc", 3));
        Assert.Equal("ab…", Columns.Truncate("abcd", 3));
        Assert.Equal("日…", Columns.Truncate("日本語", 4));
        Assert.Equal("", Columns.Truncate("abc", 0));
    }

    [Fact]
    public void History_walks_back_and_forth_and_keeps_the_draft()
    {
        InputHistory history = new(capacity: 3);
        Assert.Null(history.Previous("draft"));
        foreach (string line in new[] { "a", "b", "b", " ", "c", "d" })
            history.Add(line);

        Assert.Equal("d", history.Previous("draft"));
        Assert.Equal("c", history.Previous("ignored"));
        Assert.Equal("b", history.Previous("ignored"));
        Assert.Null(history.Previous("ignored")); // "a" fell out: capacity 3, repeats and blanks not kept
        Assert.Equal("c", history.Next());
        Assert.Equal("d", history.Next());
        Assert.Equal("draft", history.Next());
        Assert.Null(history.Next());
    }

    private static ChatMessage Message(string senderId, string nick, string text, MessageOrigin origin) =>
        new($"{senderId}/1", "lobby", senderId, nick, text, Noon, origin);
}
