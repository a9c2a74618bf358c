using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Echo.SystemTests;

/// <summary>
/// The input line in a real terminal (tmux): long input typed as keys, readline keys as a terminal
/// encodes them (Alt as ESC), Tab completion, and rows that keep their width with emoji modifiers.
/// </summary>
public sealed class TerminalInputTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>One chat in a tmux pane of <paramref name="width"/> columns, ready for input.</summary>
    private static async Task<TmuxSession> StartAsync(string home, string name, int width = 140, int height = 40)
    {
        int port = TmuxSession.FreePort();
        TmuxSession session = await TmuxSession.StartAsync(name,
            $"XDG_DATA_HOME={home} NAME={name} exec dotnet {EchoChatProcess.ExecutablePath} --no-mdns --listen /ip4/127.0.0.1/tcp/{port}",
            width, height);
        await session.WaitForScreenAsync(s => s.Contains("/help lists the commands", StringComparison.Ordinal), TimeSpan.FromSeconds(30), Ct);
        return session;
    }

    private static long RssBytes(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        throw new InvalidOperationException("no VmRSS");
    }

    [Fact(Timeout = 120_000)]
    public async Task FourThousandCharacters_TypedAsKeys_ShowAtOnce_AndMemoryReturns()
    {
        TmuxSession.Require();
        string home = Directory.CreateTempSubdirectory("echo-tui-input-").FullName;
        try
        {
            await using TmuxSession alice = await StartAsync(home, "alice");
            int pid = await alice.PanePidAsync();
            long before = RssBytes(pid);

            StringBuilder text = new();
            for (int i = 0; text.Length < 3_990; i++)
                text.Append(CultureInfo.InvariantCulture, $"w{i} ");
            string line = text.Append("END4000").ToString();
            Stopwatch typed = Stopwatch.StartNew();
            await alice.SendKeysAsync("-l", line); // keys, not a bracketed paste
            // The input line follows the cursor: its end is on screen once every key was handled.
            await alice.WaitForScreenAsync(s => s.Contains("END4000", StringComparison.Ordinal), TimeSpan.FromSeconds(2), Ct);
            typed.Stop();

            await alice.SendKeysAsync("Enter");
            // The line is in the scrollback (its end on screen, inside the frame) and the input is empty.
            await alice.WaitForScreenAsync(s => s.Split('\n').Any(r => r.StartsWith('│') && r.Contains("END4000", StringComparison.Ordinal))
                && InputRow(s) == "", TimeSpan.FromSeconds(10), Ct);

            long after = RssBytes(pid);
            Assert.True(after - before < 50L * 1024 * 1024,
                $"RSS grew from {before / 1048576} MiB to {after / 1048576} MiB for one 4,000-character line (typed in {typed.ElapsedMilliseconds} ms)");
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task ReadlineKeys_AndTabCompletion_WorkAsTheTerminalSendsThem()
    {
        TmuxSession.Require();
        string home = Directory.CreateTempSubdirectory("echo-tui-input-").FullName;
        try
        {
            await using TmuxSession alice = await StartAsync(home, "alice");

            // Each step waits for the input line to show its result (text, and the cursor where a move
            // put it), as a user looks before the next key.
            await StepAsync(alice, "hello world", 11, ["-l", "hello world"]);
            await StepAsync(alice, "hello world", 0, ["C-a"]);
            await StepAsync(alice, "Xhello world", 1, ["-l", "X"]);
            await StepAsync(alice, "Xhello worldY", 13, ["C-e"], ["-l", "Y"]);
            await StepAsync(alice, "Xhello", 7, ["C-w"]);                   // killed "worldY"
            await StepAsync(alice, "Xhello worldY", 13, ["C-y"]);
            await StepAsync(alice, "Xhello worldY", 7, ["M-b"]);            // Alt+B: to the word's start
            await StepAsync(alice, "Xhello", 7, ["M-d"]);                   // Alt+D: kill the word after
            await StepAsync(alice, "Xhello there", 12, ["-l", "there"]);
            await StepAsync(alice, "Xhello there", 8, ["C-b", "C-b", "C-b", "C-b", "C-b", "C-f"]);
            await StepAsync(alice, "Xhello t", 8, ["C-k"]);
            await StepAsync(alice, "Xhello to", 9, ["-l", "o"]);
            await StepAsync(alice, "Xhello to", 0, ["Home"]);
            await StepAsync(alice, "Xhello to", 6, ["M-f"]);                // Alt+F: past "Xhello"
            await StepAsync(alice, "to", 0, ["C-u"]);                        // killed "Xhello"
            await StepAsync(alice, "Xhello to", 6, ["C-y"]);
            await StepAsync(alice, "Xhello to you", 13, ["End"], ["-l", " you"]);
            // An Alt key and the keys after it in one write (fast typing, a batching SSH link) all count.
            await StepAsync(alice, "Xhello to all you", 14, ["M-b", "a", "l", "l", "Space"]);
            await alice.SendKeysAsync("Enter");
            await alice.WaitForScreenAsync(s => s.Contains("<alice> Xhello to all you", StringComparison.Ordinal), TimeSpan.FromSeconds(10), Ct);

            // Commands complete at the start of the line; rooms after a '#', cycling on Tab.
            await alice.SendKeysAsync("-l", "/jo");
            await alice.SendKeysAsync("Tab");
            await alice.SendKeysAsync("-l", "#ops");         // /join #ops: rooms are shown with their '#'
            await alice.SendKeysAsync("Enter");
            await alice.WaitForScreenAsync(s => s.Contains("joined #ops", StringComparison.Ordinal), TimeSpan.FromSeconds(10), Ct);
            await alice.TypeLineAsync("/join openbsd");
            await alice.WaitForScreenAsync(s => s.Contains("joined #openbsd", StringComparison.Ordinal), TimeSpan.FromSeconds(10), Ct);
            await alice.SendKeysAsync("-l", "see #op");
            await alice.SendKeysAsync("Tab");                // see #openbsd
            await alice.SendKeysAsync("Tab");                // see #ops
            await alice.SendKeysAsync("-l", "now");
            await alice.SendKeysAsync("Enter");
            await alice.WaitForScreenAsync(s => s.Contains("<alice> see #ops now", StringComparison.Ordinal), TimeSpan.FromSeconds(10), Ct);

            // Tab never leaves the input line: the next key still types there.
            await alice.SendKeysAsync("Tab");
            await alice.SendKeysAsync("-l", "still here");
            await alice.SendKeysAsync("Enter");
            await alice.WaitForScreenAsync(s => s.Contains("<alice> still here", StringComparison.Ordinal), TimeSpan.FromSeconds(10), Ct);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task EmojiWithSkinTone_KeepsThePanelBorders()
    {
        TmuxSession.Require();
        string home = Directory.CreateTempSubdirectory("echo-tui-input-").FullName;
        try
        {
            await using TmuxSession alice = await StartAsync(home, "alice", width: 100, height: 20);
            await alice.SendKeysAsync("-l", "👍🏽 thumbs up 日本 e\u0301 👨\u200d👩\u200d👧");
            await alice.SendKeysAsync("Enter");
            // The line in the scrollback (inside the frame), not the input line before Enter is handled.
            static bool InFrame(string row) => row.StartsWith('│') && row.Contains("thumbs up", StringComparison.Ordinal);
            string screen = await alice.WaitForScreenAsync(s => s.Split('\n').Any(InFrame), TimeSpan.FromSeconds(10), Ct);

            string[] rows = screen.Split('\n');
            string emojiRow = rows.Single(InFrame);
            string plainRow = rows.First(r => r.Contains("joined #", StringComparison.Ordinal) || r.Contains("you are alice", StringComparison.Ordinal));
            // The scrollback frame's left and right lines stand where they do on a row of plain text.
            Assert.Equal(BorderColumns(plainRow)[..2], BorderColumns(emojiRow)[..2]);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    /// <summary>The text of the input line ("> …") on a captured screen, trimmed.</summary>
    private static string InputRow(string screen) =>
        screen.Split('\n').Where(r => r.StartsWith("> ", StringComparison.Ordinal) || r == ">").Select(r => r[1..].Trim()).LastOrDefault() ?? "";

    /// <summary>
    /// Sends each group of keys in turn, then waits until the input line reads <paramref name="expected"/>
    /// with the cursor after <paramref name="cursor"/> characters (the prompt "> " takes two columns).
    /// </summary>
    private static async Task StepAsync(TmuxSession session, string expected, int cursor, params string[][] keyGroups)
    {
        foreach (string[] keys in keyGroups)
            await session.SendKeysAsync(keys);
        Stopwatch clock = Stopwatch.StartNew();
        string screen = "";
        int column = -1;
        using PeriodicTimer poll = new(TimeSpan.FromMilliseconds(50));
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            screen = await session.CaptureAsync();
            column = await session.CursorColumnAsync();
            if (InputRow(screen) == expected && column == 2 + cursor)
                return;
            await poll.WaitForNextTickAsync(Ct);
        }
        Assert.Fail($"after {string.Join(' ', keyGroups.SelectMany(k => k))}: input '{InputRow(screen)}' with the cursor at {column - 2}, expected '{expected}' at {cursor}");
    }

    /// <summary>The columns of the vertical frame lines in a captured row, as tmux 3.3 lays it out.</summary>
    private static List<int> BorderColumns(string row)
    {
        List<int> columns = [];
        int column = 0;
        bool joined = false;
        for (int i = 0; i < row.Length; i += char.IsSurrogatePair(row, i) ? 2 : 1)
        {
            int rune = char.ConvertToUtf32(row, i);
            if (rune == '│')
                columns.Add(column);
            // tmux draws a ZWJ sequence in the cells of its first emoji.
            column += joined ? 0 : CellsOf(rune);
            joined = rune == 0x200D;
        }
        return columns;
    }

    /// <summary>tmux 3.3's cells for the characters this test draws (measured with cursor position reports).</summary>
    private static int CellsOf(int rune) => rune switch
    {
        0x200D or 0xFE0F or 0x0301 => 0,
        >= 0x1F000 => 2,
        >= 0x2E80 and <= 0x9FFF => 2,
        _ => 1,
    };
}
