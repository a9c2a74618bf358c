using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Echo.Protocols.Discovery;
using Echo.TestKit.Lab;

namespace Echo.SystemTests;

/// <summary>
/// The chat over relays in the NAT lab, through the headless face: alice behind router A and bob
/// behind router B start with <c>--bootstrap</c> to the lab's js DHT/relay nodes and <c>--room natroom</c>
/// (no <c>--connect</c>), find each other through the DHT and chat through the js relay: when the
/// relay cuts the circuit at a small data limit, when bob's NAT is symmetric and the hole punch
/// fails, and when alice's relay is killed and she re-provides the room with her new relayed address.
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed partial class RelayChatLabTests
{
    private const int Port = 4001;
    private const string Room = "natroom";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Report(string what, TimeSpan elapsed) =>
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {elapsed.TotalMilliseconds:0} ms"));

    [GeneratedRegex(@"Relay reservation on (\S+) until \S+ \(status OK, limit (\d+) s, (\d+) bytes, voucher (\w+)\); reachable at (.+)$", RegexOptions.Multiline)]
    private static partial Regex ReservationLine();


    /// <summary>The relays alice's log shows a reservation on, in order, each with its relayed addresses.</summary>
    private static List<(string Relay, string[] Addresses)> Reservations(string log) =>
        [.. ReservationLine().Matches(LabWait.ReadLog(log)).Select(m => (m.Groups[1].Value, m.Groups[5].Value.Trim().Split(", ")))];

    /// <summary>The options of a node in the room flow: the lab's internet is public, every js node a bootstrap peer.</summary>
    private static string[] Args(NatLab lab, string log, params string[] extra) =>
    [
        "--public-range", NatLab.InternetSubnet, "--log-file", log, "--room", Room, "--reserve-relays",
        .. lab.JsNodes.SelectMany(n => new[] { "--bootstrap", n.Address }), .. extra,
    ];

    private static string Type(JsonElement e) => e.GetProperty("type").GetString()!;

    private static string? Text(JsonElement e, string property) =>
        e.TryGetProperty(property, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>
    /// Every headless event of one echo-chat, kept: a wait looks at what came already, then at what
    /// comes, so no event is consumed by another wait.
    /// </summary>
    private sealed class Events(EchoChatProcess chat)
    {
        private readonly List<JsonElement> _seen = [];

        public EchoChatProcess Chat => chat;

        public IReadOnlyList<JsonElement> Seen => _seen;

        public async Task<JsonElement> WaitAsync(Func<JsonElement, bool> match, TimeSpan timeout, string what)
        {
            foreach (JsonElement e in _seen)
            {
                if (match(e))
                    return e;
            }
            try
            {
                return await chat.NextAsync(e =>
                {
                    _seen.Add(e);
                    return match(e);
                }, timeout, Ct);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{what}: {e.Message}", e);
            }
        }

        /// <summary>Takes in what arrived so far without waiting.</summary>
        public void Catch() => _seen.AddRange(chat.Drain());

        public IEnumerable<JsonElement> Messages(string text) => _seen.Where(e => Type(e) == "message" && Text(e, "text") == text);

        public IEnumerable<JsonElement> PeerEvents(string peerId, string? change = null) =>
            _seen.Where(e => Type(e) == "peer" && Text(e, "peerId") == peerId && (change is null || Text(e, "event") == change));
    }

    /// <summary>Waits until <paramref name="a"/> and <paramref name="b"/> each report the other connected through a relay.</summary>
    private static async Task RelayedAsync(Events a, Events b, TimeSpan timeout)
    {
        await a.WaitAsync(e => Type(e) == "peer" && Text(e, "event") == "connected" && Text(e, "peerId") == b.Chat.PeerId
                               && Text(e, "via") == "relay", timeout, "a relayed connection at " + a.Chat.PeerId);
        await b.WaitAsync(e => Type(e) == "peer" && Text(e, "event") == "connected" && Text(e, "peerId") == a.Chat.PeerId
                               && Text(e, "via") == "relay", timeout, "a relayed connection at " + b.Chat.PeerId);
    }

    private static void AssertNoException(string log, EchoChatProcess chat)
    {
        string all = LabWait.ReadLog(log) + chat.StandardError;
        Assert.DoesNotContain("Unhandled", all, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", all, StringComparison.Ordinal);   // no stack trace anywhere
    }

    /// <remarks>
    /// 4 KiB, both directions together as js's relay counts them: a new circuit spends about 3 KiB
    /// before the chat the first time (Noise, identify both ways, profiles, pubsub's hello, history
    /// requests) and about 2 KiB on each circuit after it (identify not asked again, no profile sent
    /// again), so every circuit carries a message or two before the relay cuts it.
    /// </remarks>
    [Fact(Timeout = 240_000)]
    public async Task The_js_relays_4_KiB_limit_cuts_the_circuit_mid_chat_and_the_chat_goes_on_with_nothing_lost()
    {
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 3, RelayDataLimit = 4096 }, Ct);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-relay-chat-lab-");
        try
        {
            string aliceLog = Path.Combine(logs.FullName, "alice.log"), bobLog = Path.Combine(logs.FullName, "bob.log");
            // No hole punch: the chat stays on the circuits, which the relay cuts every 4 KiB.
            Events alice = new(await lab.StartEchoAsync(lab.HomeA, "alice", Args(lab, aliceLog, "--no-hole-punch"), Ct, Port));
            Events bob = new(await lab.StartEchoAsync(lab.HomeB, "bob", Args(lab, bobLog, "--no-hole-punch"), Ct, Port));
            Stopwatch clock = Stopwatch.StartNew();
            await RelayedAsync(alice, bob, TimeSpan.FromSeconds(90));
            Report("start to a relayed connection (room found through the DHT)", clock.Elapsed);

            // Messages one after another, each waited for at bob, until the relay cut the circuit and a few after that.
            List<string> sent = [];
            int cuts = 0, afterCut = 0;
            for (int i = 0; i < 30 && (cuts == 0 || afterCut < 3); i++)
            {
                string text = string.Create(CultureInfo.InvariantCulture, $"message {i:D2} {new string('x', 200)}");
                sent.Add(text);
                await alice.Chat.SendLineAsync(text);
                await bob.WaitAsync(e => Type(e) == "message" && Text(e, "text") == text, TimeSpan.FromSeconds(60), $"bob receives message {i}");
                int seenCuts = bob.PeerEvents(alice.Chat.PeerId, "disconnected").Count();
                if (seenCuts > cuts)
                {
                    cuts = seenCuts;
                    afterCut = 0;
                    Report(string.Create(CultureInfo.InvariantCulture, $"cut #{cuts} seen after message {i}"), clock.Elapsed);
                }
                else if (cuts > 0)
                    afterCut++;
            }
            Assert.True(cuts > 0, "the relay never cut the circuit");
            // Every cut was followed by a new circuit (re-dialed), the last one too, and every message arrived exactly once.
            await bob.WaitAsync(_ => bob.PeerEvents(alice.Chat.PeerId, "connected").Count() > bob.PeerEvents(alice.Chat.PeerId, "disconnected").Count(),
                TimeSpan.FromSeconds(30), "a new circuit after the last cut");
            bob.Catch();
            int circuits = bob.PeerEvents(alice.Chat.PeerId, "connected").Count();
            Assert.True(circuits > cuts);
            Report(string.Create(CultureInfo.InvariantCulture, $"{sent.Count} messages over {circuits} circuits, done"), clock.Elapsed);
            Assert.All(sent, t => Assert.Single(bob.Messages(t)));
            Assert.All(bob.PeerEvents(alice.Chat.PeerId, "connected"), e => Assert.Equal("relay", Text(e, "via")));
            Assert.DoesNotContain(bob.Seen, e => Type(e) == "error");
            alice.Catch();
            Assert.DoesNotContain(alice.Seen, e => Type(e) == "error");
            AssertNoException(aliceLog, alice.Chat);
            AssertNoException(bobLog, bob.Chat);
        }
        finally
        {
            await lab.DisposeAsync();
            logs.Delete(recursive: true);
        }
    }

    [Fact(Timeout = 240_000)]
    public async Task Bob_behind_the_symmetric_nat_stays_relayed_after_three_punch_attempts_and_chats_over_the_relay()
    {
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 3, RouterB = NatKind.Symmetric }, Ct);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-relay-chat-lab-");
        try
        {
            string aliceLog = Path.Combine(logs.FullName, "alice.log"), bobLog = Path.Combine(logs.FullName, "bob.log");
            Events alice = new(await lab.StartEchoAsync(lab.HomeA, "alice", Args(lab, aliceLog), Ct, Port));
            Events bob = new(await lab.StartEchoAsync(lab.HomeB, "bob", Args(lab, bobLog), Ct, Port));
            Stopwatch clock = Stopwatch.StartNew();
            await RelayedAsync(alice, bob, TimeSpan.FromSeconds(90));
            Report("start to a relayed connection", clock.Elapsed);

            // The hole punch fails three times; both say the peer stays relayed, and why.
            foreach ((Events side, Events other) in new[] { (alice, bob), (bob, alice) })
            {
                JsonElement reason = await side.WaitAsync(e => Type(e) == "peer" && Text(e, "peerId") == other.Chat.PeerId
                                                               && Text(e, "relayReason") is not null, TimeSpan.FromSeconds(90),
                    "a relay reason at " + side.Chat.PeerId);
                string why = Text(reason, "relayReason")!;
                Assert.StartsWith("hole punch failed after 3 attempts", why, StringComparison.Ordinal);
                Assert.Equal("relay", Text(reason, "via"));
                TestContext.Current.TestOutputHelper?.WriteLine($"relayReason: {why}");
            }
            // Bob's NAT gives each destination a new port: at least one side names it.
            Assert.Contains(alice.PeerEvents(bob.Chat.PeerId).Concat(bob.PeerEvents(alice.Chat.PeerId)),
                e => Text(e, "relayReason")?.Contains("symmetric NAT suspected", StringComparison.Ordinal) == true);
            Report("start to both relay reasons", clock.Elapsed);

            // A direct message and 20 room messages arrive over the relay.
            await alice.Chat.SendLineAsync($"/msg {bob.Chat.PeerId} a dm over the relay");
            await bob.WaitAsync(e => Type(e) == "dm" && Text(e, "text") == "a dm over the relay", TimeSpan.FromSeconds(30), "bob's dm");
            string[] texts = [.. Enumerable.Range(0, 20).Select(i => string.Create(CultureInfo.InvariantCulture, $"room message {i:D2}"))];
            foreach (string text in texts)
                await alice.Chat.SendLineAsync(text);
            foreach (string text in texts)
                await bob.WaitAsync(e => Type(e) == "message" && Text(e, "text") == text, TimeSpan.FromSeconds(30), "bob receives " + text);

            // A file offered to the room says bob's copy needs a direct connection, and so does bob's /get.
            string file = Path.Combine(logs.FullName, "notes.txt");
            await File.WriteAllTextAsync(file, new string('n', 10_000), Ct);
            await alice.Chat.SendLineAsync($"/send {file}");
            JsonElement aliceWaits = await alice.WaitAsync(e => Type(e) == "file-waiting" && Text(e, "peerId") == bob.Chat.PeerId,
                TimeSpan.FromSeconds(30), "alice's file-waiting");
            Assert.Contains("waiting for a direct connection to bob; relayed links carry text only", Text(aliceWaits, "message"), StringComparison.Ordinal);
            JsonElement offer = await bob.WaitAsync(e => Type(e) == "file-offer", TimeSpan.FromSeconds(30), "bob's file-offer");
            await bob.Chat.SendLineAsync($"/get {Text(offer, "id")}");
            JsonElement bobWaits = await bob.WaitAsync(e => Type(e) == "file-waiting", TimeSpan.FromSeconds(30), "bob's file-waiting");
            Assert.Equal("notes.txt: waiting for a direct connection to alice; relayed links carry text only", Text(bobWaits, "message"));

            // Still relayed on both sides: no update to a direct connection came.
            alice.Catch();
            bob.Catch();
            Assert.DoesNotContain(alice.PeerEvents(bob.Chat.PeerId), e => Text(e, "via") == "direct");
            Assert.DoesNotContain(bob.PeerEvents(alice.Chat.PeerId), e => Text(e, "via") == "direct");
            Assert.DoesNotContain(bob.Seen, e => Type(e) is "file-done" or "file-progress");
            AssertNoException(aliceLog, alice.Chat);
            AssertNoException(bobLog, bob.Chat);
        }
        finally
        {
            await lab.DisposeAsync();
            logs.Delete(recursive: true);
        }
    }

    [Fact(Timeout = 180_000)]
    public async Task A_killed_relay_is_replaced_within_30_s_and_the_room_is_provided_again_with_the_new_relayed_address()
    {
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 3, JsRelays = 3 }, Ct);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-relay-chat-lab-");
        try
        {
            string aliceLog = Path.Combine(logs.FullName, "alice.log");
            string[] relays = [.. lab.JsNodes.Select(n => n.PeerId)];
            EchoChatProcess alice = await lab.StartEchoAsync(lab.HomeA, "alice", Args(lab, aliceLog), Ct, Port);
            await TestHosts.WaitUntilAsync(() => Reservations(aliceLog).Select(r => r.Relay).Distinct().Count() == 2,
                "alice holds two reservations", TimeSpan.FromSeconds(60));
            int before = Reservations(aliceLog).Count;
            string[] used = [.. Reservations(aliceLog).Select(r => r.Relay).Distinct()];
            string spare = relays.Except(used).Single();
            LabJsNode killed = lab.JsNodes.Single(n => n.PeerId == used[0]);
            LabJsNode asker = lab.JsNodes.Single(n => n.PeerId == used[1]);
            string key = Convert.ToHexStringLower(DiscoveryKeys.Room(Room));

            Stopwatch clock = Stopwatch.StartNew();
            killed.Kill();
            await TestHosts.WaitUntilAsync(() => Reservations(aliceLog).Skip(before).Any(r => r.Relay == spare),
                "a reservation on the spare relay", TimeSpan.FromSeconds(30));
            Report("killed relay to a reservation on the spare one", clock.Elapsed);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30));
            string newCircuit = $"/p2p/{spare}/p2p-circuit";

            // A lookup of the room's key (by a js DHT node) returns alice with her new relayed address.
            string[] found = [];
            using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            bound.CancelAfter(TimeSpan.FromSeconds(90));
            using PeriodicTimer poll = new(TimeSpan.FromSeconds(1));
            while (!found.Any(a => a.Contains(newCircuit, StringComparison.Ordinal)))
            {
                await poll.WaitForNextTickAsync(bound.Token);
                JsonElement reply = await asker.CommandAsync("findProviders",
                    new JsonObject { ["key"] = key, ["cidVersion"] = 1, ["timeoutMs"] = 20_000 }, bound.Token);
                found = [.. reply.GetProperty("providers").EnumerateArray()
                    .Where(p => p.GetProperty("peerId").GetString() == alice.PeerId)
                    .SelectMany(p => p.GetProperty("addrs").EnumerateArray().Select(a => a.GetString()!))];
            }
            Report("killed relay to the room provided with the new relayed address", clock.Elapsed);
            TestContext.Current.TestOutputHelper?.WriteLine("alice's provider addresses: " + string.Join(", ", found));
            Assert.Contains(found, a => a.Contains(newCircuit, StringComparison.Ordinal));
            AssertNoException(aliceLog, alice);
        }
        finally
        {
            await lab.DisposeAsync();
            logs.Delete(recursive: true);
        }
    }
}
