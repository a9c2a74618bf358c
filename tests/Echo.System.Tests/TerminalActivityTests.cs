using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Echo.Core.Chat;
using Echo.Storage;
using Microsoft.Data.Sqlite;

namespace Echo.SystemTests;

/// <summary>
/// Activity in a real terminal (tmux): a mention from a peer rings the bell and sets the title (the
/// bytes the chat writes, through pipe-pane), the activity list in a narrow terminal, the
/// day-change line and dates of stored history, and /search finding an old line.
/// </summary>
public sealed partial class TerminalActivityTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Alice's TUI in a tmux pane, in UTC (so the test knows the local days), ready for input.</summary>
    private static async Task<TmuxSession> StartAliceAsync(string home, string session, int port, int width, int height)
    {
        TmuxSession alice = await TmuxSession.StartAsync(session,
            $"TZ=UTC XDG_DATA_HOME={home} NAME=alice exec dotnet {EchoChatProcess.ExecutablePath} --no-mdns --listen /ip4/127.0.0.1/tcp/{port}",
            width, height);
        try
        {
            await alice.WaitForScreenAsync(s => s.Contains("you are alice", StringComparison.Ordinal), Patience, Ct);
            return alice;
        }
        catch
        {
            await alice.DisposeAsync();
            throw;
        }
    }

    /// <summary>OSC sequences (title and others), ended by BEL or ST.</summary>
    [GeneratedRegex("\u001b\\][^\u0007\u001b]*(\u0007|\u001b\\\\)")]
    private static partial Regex Osc();

    /// <summary>Bells the pane got that do not end an OSC sequence.</summary>
    private static int Bells(string output) => Osc().Replace(output, "").Count(c => c == '\a');

    private static async Task<string> ReadOutputAsync(string path) =>
        File.Exists(path) ? await File.ReadAllTextAsync(path, Ct) : "";

    /// <summary>Alice (TUI) goes to #ops; bob (headless) connects and says "alice: ping" in lobby.</summary>
    private static async Task<(TmuxSession Alice, EchoChatProcess Bob)> MentionFromBobAsync(string home, string session, string output,
        int width, int height)
    {
        int port = TmuxSession.FreePort();
        TmuxSession alice = await StartAliceAsync(home, session, port, width, height);
        try
        {
            await alice.TypeLineAsync("/join ops");
            await alice.WaitForScreenAsync(s => s.Contains("joined #ops", StringComparison.Ordinal), Patience, Ct);
            await alice.PipeOutputToAsync(output);
            EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", $"/ip4/127.0.0.1/tcp/{port}"], Ct);
            try
            {
                await alice.WaitForScreenAsync(s => s.Contains("connected", StringComparison.Ordinal), Patience, Ct);
                Assert.Equal(0, Bells(await ReadOutputAsync(output)));
                // Plain lines first, until one arrives (the room's mesh takes a moment to form): they count, but never ring.
                for (int i = 0; i < 60; i++)
                {
                    await bob.SendLineAsync($"warm-up {i}");
                    string screen = await alice.CaptureAsync();
                    if (screen.Contains("lobby (", StringComparison.Ordinal) || screen.Contains("Act: 1", StringComparison.Ordinal))
                        break;
                    await Task.Delay(TimeSpan.FromMilliseconds(250), Ct);
                }
                await alice.WaitForScreenAsync(s => s.Contains("lobby (", StringComparison.Ordinal) || s.Contains("Act: 1", StringComparison.Ordinal),
                    Patience, Ct);
                await bob.SendLineAsync("alice: ping");
                return (alice, bob);
            }
            catch
            {
                await bob.DisposeAsync();
                throw;
            }
        }
        catch
        {
            await alice.DisposeAsync();
            throw;
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task AMentionFromAPeer_RingsTheBellOnce_AndPutsTheCountInTheTitle_UntilSeen()
    {
        TmuxSession.Require();
        string home = Directory.CreateTempSubdirectory("echo-tui-activity-").FullName;
        string output = Path.Combine(home, "pane-output");
        try
        {
            (TmuxSession alice, EchoChatProcess bob) = await MentionFromBobAsync(home, "alice-mention", output, 140, 40);
            await using (alice)
            await using (bob)
            {
                await alice.WaitForScreenAsync(s => s.Contains(", 1!)", StringComparison.Ordinal), Patience, Ct);
                string written = await WaitForOutputAsync(output, o => o.Contains("\u001b]2;[1] echo: #ops\a", StringComparison.Ordinal));
                Assert.Equal(1, Bells(written));

                await alice.SendKeysAsync("M-1"); // to lobby: seen
                await alice.WaitForScreenAsync(s => s.Contains("<bob> alice: ping", StringComparison.Ordinal), Patience, Ct);
                written = await WaitForOutputAsync(output, o => o.EndsWith("\u001b]2;echo: #lobby\a", StringComparison.Ordinal)
                    || o.Contains("\u001b]2;echo: #lobby\a", StringComparison.Ordinal));
                Assert.Equal(1, Bells(written));
            }
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task InANarrowTerminal_TheStatusLineListsTheActivity()
    {
        TmuxSession.Require();
        string home = Directory.CreateTempSubdirectory("echo-tui-activity-").FullName;
        string output = Path.Combine(home, "pane-output");
        try
        {
            (TmuxSession alice, EchoChatProcess bob) = await MentionFromBobAsync(home, "alice-narrow", output, 60, 15);
            await using (alice)
            await using (bob)
            {
                string screen = await alice.WaitForScreenAsync(s => s.Contains("Act: 1!", StringComparison.Ordinal), Patience, Ct);
                string[] rows = screen.TrimEnd('\n').Split('\n');
                Assert.Contains("Act: 1!", rows[^1], StringComparison.Ordinal); // the status line, the last row
                Assert.DoesNotContain("Rooms", screen, StringComparison.Ordinal); // no side panels at 60 columns
            }
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task StoredHistoryOfTwoDays_ShowsADayChangeLineAndDates_AndSearchFindsAndNavigatesOldLines()
    {
        TmuxSession.Require();
        string home = Directory.CreateTempSubdirectory("echo-tui-history-").FullName;
        try
        {
            // History from earlier runs: 150 lines two days ago (the 1st and the 41st with a needle) and two yesterday.
            DateTimeOffset today = new(DateTime.UtcNow.Date, TimeSpan.Zero);
            DateTimeOffset twoDaysAgo = today.AddDays(-2).AddHours(9);
            DateTimeOffset yesterday = today.AddDays(-1).AddHours(9);
            string data = Path.Combine(home, "echo", "alice");
            Directory.CreateDirectory(data);
            const string bob = "12D3KooWBobHistoryPeer000000000000000000000000000";
            List<ChatMessage> stored = [.. Enumerable.Range(0, 150).Select(i => new ChatMessage($"{bob}:{i:x16}", "lobby", bob, "bob",
                i switch { 0 => "the blue needle is here", 40 => "a blue needle again", _ => $"old line {i}" }, twoDaysAgo.AddSeconds(i),
                MessageOrigin.EchoGo))];
            stored.Add(new ChatMessage($"{bob}:{200:x16}", "lobby", bob, "bob", "from yesterday", yesterday, MessageOrigin.EchoGo));
            stored.Add(new ChatMessage($"{bob}:{201:x16}", "lobby", bob, "bob", "also yesterday", yesterday.AddMinutes(1), MessageOrigin.EchoGo));
            await using (SqliteMessageStore store = SqliteMessageStore.Open(Path.Combine(data, SqliteMessageStore.FileName)))
            {
                await store.AddAsync(stored, Ct);
                await store.SaveRoomsAsync(["lobby"], Ct);
            }
            SqliteConnection.ClearAllPools();

            await using TmuxSession alice = await StartAliceAsync(home, "alice-history", TmuxSession.FreePort(), 140, 40);
            string dayLine = "── " + DateOnly.FromDateTime(yesterday.UtcDateTime).ToString("dddd, yyyy-MM-dd", CultureInfo.InvariantCulture) + " ──";
            string screen = await alice.WaitForScreenAsync(s => s.Contains("also yesterday", StringComparison.Ordinal), Patience, Ct);
            string[] rows = screen.Split('\n');
            int last = Array.FindIndex(rows, r => r.Contains("old line 149", StringComparison.Ordinal));
            int change = Array.FindIndex(rows, r => r.Contains(dayLine, StringComparison.Ordinal));
            int next = Array.FindIndex(rows, r => r.Contains("from yesterday", StringComparison.Ordinal));
            Assert.True(last >= 0 && last < change && change < next, $"old {last}, day change {change}, yesterday {next}:\n{screen}");
            Assert.Contains(yesterday.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), rows[next], StringComparison.Ordinal);
            Assert.Contains(twoDaysAgo.AddSeconds(149).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture), rows[last], StringComparison.Ordinal);
            Assert.DoesNotContain("needle", screen, StringComparison.Ordinal); // not loaded: older than the lines shown at start

            await alice.TypeLineAsync("/search Blue Needle");
            screen = await alice.WaitForScreenAsync(s => s.Contains("2 lines in #lobby contain \"Blue Needle\"", StringComparison.Ordinal), Patience, Ct);
            Assert.Contains($"[1] {twoDaysAgo.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} [go] <bob> the blue needle is here", screen,
                StringComparison.Ordinal);

            // Enter on the empty line jumps to the first result, older than the lines loaded: the history up to it loads.
            static bool Shows(string screen, string text, string position) =>
                screen.Contains($"search \"Blue Needle\" {position}", StringComparison.Ordinal)
                && screen.Split('\n').Any(r => r.Contains("<bob> " + text, StringComparison.Ordinal) && !r.Contains("] 20", StringComparison.Ordinal));
            await alice.SendKeysAsync("Enter");
            await alice.WaitForScreenAsync(s => Shows(s, "the blue needle is here", "1/2"), Patience, Ct);
            await alice.SendKeysAsync("n");
            await alice.WaitForScreenAsync(s => Shows(s, "a blue needle again", "2/2"), Patience, Ct);
            await alice.SendKeysAsync("N");
            screen = await alice.WaitForScreenAsync(s => Shows(s, "the blue needle is here", "1/2"), Patience, Ct);
            Assert.DoesNotContain("> n", screen, StringComparison.Ordinal);   // n and N navigated, nothing was typed
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(home, recursive: true);
        }
    }

    private static async Task<string> WaitForOutputAsync(string path, Func<string, bool> condition)
    {
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(Patience);
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(100));
        string output = "";
        while (!timeout.IsCancellationRequested)
        {
            output = await ReadOutputAsync(path);
            if (condition(output))
                return output;
            try
            {
                await poll.WaitForNextTickAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                break;
            }
        }
        throw new TimeoutException($"the pane's output did not match within {Patience}; it has {Bells(output)} bell(s), titles: " +
            string.Join(" | ", Osc().Matches(output).Select(m => m.Value.Replace("\u001b", "ESC", StringComparison.Ordinal).Replace("\a", "BEL", StringComparison.Ordinal))));
    }
}
