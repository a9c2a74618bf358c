using System.Text.Json;
using Echo.Core.Ports;
using Echo.Storage;
using Microsoft.Data.Sqlite;

namespace Echo.SystemTests;

/// <summary>History across real echo-chat processes: catch-up from another peer, restarts, and SIGKILL.</summary>
public sealed class HistoryEndToEndTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("echo-history-test-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_root, recursive: true);
    }

    private static DateTimeOffset Ts(JsonElement e) =>
        DateTimeOffset.Parse(e.GetProperty("ts").GetString()!, global::System.Globalization.CultureInfo.InvariantCulture);

    private string DataDir(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;

    private static bool IsOwnMessage(JsonElement e) =>
        e.GetProperty("type").GetString() == "message" && e.GetProperty("origin").GetString() == "self";

    private static Task<JsonElement> OwnMessageAsync(EchoChatProcess node, TimeSpan timeout) =>
        node.NextAsync(IsOwnMessage, timeout, Ct);

    [Fact(Timeout = 120_000)]
    public async Task NodeThatWasOff_CatchesUpFromTheOnlyPeerItKnows_EveryMessageOfTheAuthor_InOrder_Verified()
    {
        string carolDir = DataDir("carol");
        List<string> written = [];
        await using EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct);
        await using EchoChatProcess bob = await EchoChatProcess.StartAsync("bob", ["--connect", alice.Address], Ct);
        await HeadlessEndToEndTests.WaitUntilRoomFormedAsync(alice, [bob], "lobby");
        alice.Drain();
        for (int i = 0; i < 30; i++)
        {
            await alice.SendLineAsync($"alice says {i}");
            if (i % 5 == 0)
                await bob.SendLineAsync($"bob says {i}");
        }
        await UntilSeenAsync(bob, [.. Enumerable.Range(0, 30).Select(i => $"alice says {i}")], "text");
        // What alice wrote while bob was there: her 30 lines and the probes that reached him (a probe
        // sent before the room formed was heard by nobody, or only as an unsigned echo-go line, which
        // history sync does not carry; the periodic sync brings the signed one later).
        string bobHistory = await RunHistoryAsync(["--name", "bob", "--data-dir", bob.DataDirectory, "--json"]);
        written.AddRange(bobHistory.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("from").GetString() == alice.PeerId && e.GetProperty("verified").GetBoolean())
            .Select(e => e.GetProperty("id").GetString()!));
        Assert.True(written.Count >= 30);

        // carol was off all along; she starts now and knows only bob.
        string carolLog = Path.Combine(_root, "carol.log");
        await using (EchoChatProcess carol = await EchoChatProcess.StartAsync("carol", ["--connect", bob.Address, "--log-file", carolLog], Ct,
                         carolDir))
        {
            List<JsonElement> caughtUp;
            try
            {
                caughtUp = await UntilSeenAsync(carol, written, "id");
            }
            catch (TimeoutException e)
            {
                string log = File.Exists(carolLog) ? string.Join('\n', (await File.ReadAllLinesAsync(carolLog, Ct)).TakeLast(40)) : "(no log)";
                throw new TimeoutException($"{e.Message}\ncarol's log:\n{log}", e);
            }
            // Caught up by history sync (marked as history) or, for what bob still had in his gossip
            // window when carol's subscription reached him, offered by gossip (a room message); both
            // are alice's signed messages, as the export below checks.
            foreach (JsonElement message in caughtUp)
            {
                Assert.True(message.TryGetProperty("history", out JsonElement history)
                    ? history.GetBoolean()
                    : message.GetProperty("origin").GetString() == "room");
            }
            Assert.DoesNotContain(carol.Drain(), e => e.GetProperty("type").GetString() == "peer"
                                                       && e.GetProperty("peerId").GetString() == alice.PeerId);
        }

        string exported = await RunHistoryAsync(["--name", "carol", "--data-dir", carolDir, "--room", "lobby", "--json"]);
        List<JsonElement> lines = [.. exported.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];
        List<JsonElement> fromAlice = [.. lines.Where(e => e.GetProperty("from").GetString() == alice.PeerId)];
        Assert.Equal(30, fromAlice.Count(e => e.GetProperty("text").GetString()!.StartsWith("alice says ", StringComparison.Ordinal)));
        // Every message bob had, in bob's order; bob's own periodic sync with alice may have brought
        // him (and so carol) a probe that nobody heard live after the export above, which is fine.
        Assert.Equal(written, fromAlice.Select(e => e.GetProperty("id").GetString()!).Where(written.Contains));
        Assert.All(fromAlice, e =>
        {
            Assert.True(e.GetProperty("verified").GetBoolean());
            Assert.Equal("alice", e.GetProperty("nick").GetString());
        });
        Assert.Contains(lines, e => e.GetProperty("text").GetString() == "bob says 25");
        // Oldest first, and --since leaves out what came before.
        List<DateTimeOffset> times = [.. lines.Select(Ts)];
        Assert.Equal(times.Order(), times);
        // --since is inclusive at millisecond resolution, and lines written back to back can share a
        // millisecond: cut at the first of alice's later lines whose time is past its predecessor's.
        List<JsonElement> aliceLines = [.. fromAlice.Where(e => e.GetProperty("text").GetString()!.StartsWith("alice says ", StringComparison.Ordinal))];
        int cut = Enumerable.Range(15, aliceLines.Count - 15)
            .First(i => Ts(aliceLines[i]) > Ts(aliceLines[i - 1]));
        string recent = await RunHistoryAsync(["--data-dir", carolDir, "--since", aliceLines[cut].GetProperty("ts").GetString()!]);
        Assert.Contains($"<alice> {aliceLines[cut].GetProperty("text").GetString()}\n", recent);
        Assert.Contains("<alice> alice says 29\n", recent);
        Assert.DoesNotContain($"> {aliceLines[cut - 1].GetProperty("text").GetString()}\n", recent);
    }

    [Fact(Timeout = 60_000)]
    public async Task Restart_KeepsPeerId_Rooms_AndHistory()
    {
        string dir = DataDir("alice");
        string peerId;
        await using (EchoChatProcess alice = await EchoChatProcess.StartAsync("alice", [], Ct, dir))
        {
            peerId = alice.PeerId;
            await alice.SendLineAsync("/join dev");
            await alice.SendLineAsync("said in dev");
            await alice.SendLineAsync("/join lobby");
            await alice.SendLineAsync("said in lobby");
            await alice.MessageAsync("said in lobby", Ct);
        }
        await using EchoChatProcess again = await EchoChatProcess.StartAsync("alice", [], Ct, dir);
        Assert.Equal(peerId, again.PeerId);
        // Rooms come back in their saved order: lobby (joined at the first start), then dev.
        JsonElement lobby = await again.MessageAsync("said in lobby", Ct, "lobby");
        Assert.True(lobby.GetProperty("history").GetBoolean());
        await again.NextAsync(e => e.GetProperty("type").GetString() == "joined" && e.GetProperty("room").GetString() == "dev",
            TimeSpan.FromSeconds(10), Ct);
        JsonElement dev = await again.MessageAsync("said in dev", Ct, "dev");
        Assert.True(dev.GetProperty("history").GetBoolean());
        Assert.Equal("self", dev.GetProperty("origin").GetString());
        await again.NextAsync(e => e.GetProperty("type").GetString() == "current" && e.GetProperty("room").GetString() == "lobby",
            TimeSpan.FromSeconds(10), Ct);
    }

    [Fact(Timeout = 60_000)]
    public async Task KilledDuringABurstOf1000_RestartsWithEveryAcknowledgedMessage_AndAnIntactDatabase()
    {
        string dir = DataDir("burst");
        List<string> acknowledged = await BurstThenKillAsync(dir, lines: 1000, killAfter: 400, prefix: "burst");
        Assert.True(acknowledged.Count >= 400);
        await AssertDurableAsync(dir, acknowledged);
        await using EchoChatProcess again = await EchoChatProcess.StartAsync("burst", [], Ct, dir);
        JsonElement last = await again.MessageAsync($"burst {acknowledged.Count - 1}", Ct);
        Assert.True(last.GetProperty("history").GetBoolean());
    }

    [Fact(Timeout = 360_000)]
    public async Task FiftyKillRestartCycles_LoseNoAcknowledgedMessage()
    {
        string dir = DataDir("cycles");
        Random random = new(20_260_101);
        List<string> acknowledged = [];
        for (int cycle = 0; cycle < 50; cycle++)
        {
            acknowledged.AddRange(await BurstThenKillAsync(dir, lines: 200, killAfter: random.Next(1, 40), prefix: $"cycle {cycle}"));
            await AssertDurableAsync(dir, acknowledged);
        }
    }

    /// <summary>
    /// Starts a node on <paramref name="dir"/>, writes <paramref name="lines"/> lines as fast as it
    /// reads them, and SIGKILLs it once <paramref name="killAfter"/> of them were acknowledged.
    /// Returns the ids of every message it acknowledged before it died.
    /// </summary>
    private static async Task<List<string>> BurstThenKillAsync(string dir, int lines, int killAfter, string prefix)
    {
        await using EchoChatProcess node = await EchoChatProcess.StartAsync("killed", [], Ct, dir);
        using CancellationTokenSource stopWriting = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task writer = Task.Run(async () =>
        {
            for (int i = 0; i < lines && !stopWriting.IsCancellationRequested; i++)
                await node.SendLineAsync($"{prefix} {i}");
        }, Ct);
        List<string> acknowledged = [];
        while (acknowledged.Count < killAfter)
        {
            JsonElement ack = await OwnMessageAsync(node, TimeSpan.FromSeconds(20));
            if (ack.GetProperty("text").GetString()!.StartsWith(prefix + " ", StringComparison.Ordinal))
                acknowledged.Add(ack.GetProperty("id").GetString()!);
        }
        node.Kill();
        await stopWriting.CancelAsync();
        await node.WaitForExitAsync(TimeSpan.FromSeconds(10), Ct);
        try
        {
            await writer;
        }
        catch (IOException)
        {
            // stdin closed under the writer by the kill
        }
        // Acknowledgements already on stdout when it died are acknowledgements too.
        acknowledged.AddRange(node.Drain().Where(IsOwnMessage)
            .Where(e => e.GetProperty("text").GetString()!.StartsWith(prefix + " ", StringComparison.Ordinal))
            .Select(e => e.GetProperty("id").GetString()!));
        return acknowledged;
    }

    private static async Task AssertDurableAsync(string dir, IReadOnlyCollection<string> acknowledged)
    {
        await using SqliteMessageStore store = SqliteMessageStore.Open(Path.Combine(dir, SqliteMessageStore.FileName));
        Assert.Null(store.Problem);
        Assert.Equal("ok", await store.IntegrityCheckAsync(Ct));
        HashSet<string> stored = [.. (await store.AfterAsync("lobby", HistoryCursor.Start, int.MaxValue, Ct)).Select(m => m.Id)];
        List<string> lost = [.. acknowledged.Where(id => !stored.Contains(id))];
        Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged messages are not on disk, e.g. {lost.FirstOrDefault()}");
    }

    /// <summary>Reads message events until each of <paramref name="wanted"/> (values of <paramref name="field"/>) was seen.</summary>
    private static async Task<List<JsonElement>> UntilSeenAsync(EchoChatProcess node, IReadOnlyCollection<string> wanted, string field)
    {
        HashSet<string> missing = [.. wanted];
        List<JsonElement> seen = [];
        List<string> other = []; // everything else the node said, for the failure message
        global::System.Diagnostics.Stopwatch sinceProgress = global::System.Diagnostics.Stopwatch.StartNew();
        TimeSpan patience = TimeSpan.FromSeconds(20);
        while (missing.Count > 0)
        {
            JsonElement message;
            try
            {
                TimeSpan left = patience - sinceProgress.Elapsed;
                if (left <= TimeSpan.Zero)
                    throw new TimeoutException($"nothing wanted arrived for {patience.TotalSeconds:0} s");
                message = await node.NextAsync(_ => true, left, Ct);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{missing.Count} of {wanted.Count} never arrived, e.g. {missing.First()}; " +
                                           $"{seen.Count} did; the node also said: {string.Join(" ", other.TakeLast(20))}", e);
            }
            if (message.GetProperty("type").GetString() != "message")
            {
                other.Add(message.GetRawText());
            }
            else if (missing.Remove(message.GetProperty(field).GetString()!))
            {
                seen.Add(message);
                sinceProgress.Restart();
            }
        }
        return seen;
    }

    private static async Task<string> RunHistoryAsync(IEnumerable<string> args)
    {
        (int exit, string stdout, string stderr) = await EchoChatProcess.RunWithOutputAsync(["history", .. args], Ct);
        Assert.True(exit == 0, $"echo-chat history exited with {exit}: {stderr}");
        return stdout;
    }
}
