using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Echo.TestKit.Lab;

namespace Echo.SystemTests;

/// <summary>
/// Circuit relay v2 in the NAT lab: alice behind router A reserves on the js relay (or on a public
/// Echo relay), peers behind router B or on the internet reach her through it, the relay's data limit
/// cuts a circuit, and a killed relay is replaced. What Echo did is read from its log
/// (<c>--log-file</c>: the reservation with its status and limits, each relayed connection).
/// </summary>
[Collection(NetworkNamespaceCollection.Name)]
public sealed partial class RelayLabTests
{
    private const int Port = 4001;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Report(string what, TimeSpan elapsed) =>
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: {elapsed.TotalMilliseconds:0} ms"));

    [GeneratedRegex(@"Relay reservation on (\S+) until \S+ \(status OK, limit (\d+) s, (\d+) bytes, voucher (\w+)\); reachable at (.+)$", RegexOptions.Multiline)]
    private static partial Regex ReservationLine();

    private sealed record Reservation(string Relay, int Seconds, long Bytes, string Voucher, string[] Addresses);


    private static List<Reservation> Reservations(string log) =>
        [.. ReservationLine().Matches(LabWait.ReadLog(log)).Select(m => new Reservation(m.Groups[1].Value,
            int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture),
            m.Groups[4].Value, m.Groups[5].Value.Trim().Split(", ")))];

    /// <summary>Waits until alice's log shows a reservation on one of <paramref name="relays"/> she had not logged before.</summary>
    private static async Task<Reservation> NextReservationAsync(string log, ICollection<string> relays, int after, TimeSpan timeout)
    {
        Reservation? found = null;
        await TestHosts.WaitUntilAsync(() =>
        {
            found = Reservations(log).Skip(after).FirstOrDefault(r => relays.Contains(r.Relay));
            return found is not null;
        }, "a reservation in " + Path.GetFileName(log), timeout);
        return found!;
    }

    private static async Task WaitForLogAsync(string log, string text, TimeSpan timeout) =>
        await TestHosts.WaitUntilAsync(() => LabWait.ReadLog(log).Contains(text, StringComparison.Ordinal), $"\"{text}\" in {Path.GetFileName(log)}", timeout);

    private static string[] Args(string log, params string[] bootstrap) =>
        ["--public-range", NatLab.InternetSubnet, "--log-file", log, .. bootstrap.SelectMany(b => new[] { "--bootstrap", b })];

    private static Task<JsonElement> NoticeAsync(EchoChatProcess chat, string startsWith) =>
        chat.NextAsync(e => e.GetProperty("type").GetString() == "notice"
                            && e.GetProperty("text").GetString()!.StartsWith(startsWith, StringComparison.Ordinal), TimeSpan.FromSeconds(30), Ct);

    [Fact(Timeout = 120_000)]
    public async Task Alice_behind_a_nat_reserves_on_the_js_relay_and_peers_reach_her_through_it()
    {
        Stopwatch total = Stopwatch.StartNew();
        // The js peer must meet alice only through the relay: unmeshed js nodes, so alice's DHT does not
        // dial it directly, and alice without DCUtR, which would dial its public address.
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 2, ConnectJsNodes = false }, Ct);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-relay-lab-");
        try
        {
            LabJsNode relay = lab.JsNodes[0], other = lab.JsNodes[1];
            string aliceLog = Path.Combine(logs.FullName, "alice.log"), bobLog = Path.Combine(logs.FullName, "bob.log");
            EchoChatProcess alice = await lab.StartEchoAsync(lab.HomeA, "alice", [.. Args(aliceLog, relay.Address), "--reserve-relays", "--no-hole-punch"], Ct, Port);
            Reservation reservation = await NextReservationAsync(aliceLog, [relay.PeerId], 0, TimeSpan.FromSeconds(30));
            Report("alice: start to a reservation on the js relay", total.Elapsed);
            Assert.Equal((120, 131072L, "verified"), (reservation.Seconds, reservation.Bytes, reservation.Voucher));
            string circuit = $"/ip4/{relay.Host.Address}/tcp/{LabJsNode.Port}/p2p/{relay.PeerId}/p2p-circuit";
            Assert.Contains(circuit, reservation.Addresses);

            // Bob behind router B dials alice through the relay.
            EchoChatProcess bob = await lab.StartEchoAsync(lab.HomeB, "bob", Args(bobLog, relay.Address), Ct, Port);
            await bob.SendLineAsync($"/connect {circuit}/p2p/{alice.PeerId}");
            await NoticeAsync(bob, $"connected to {alice.PeerId}");
            await WaitForLogAsync(bobLog, $"Relayed connection to {alice.PeerId} through {relay.PeerId} (limit 120 s, 131072 bytes)", TimeSpan.FromSeconds(10));
            await WaitForLogAsync(aliceLog, $"Relayed connection from {bob.PeerId} through {relay.PeerId} (limit 120 s, 131072 bytes)", TimeSpan.FromSeconds(10));
            Report("bob: relayed connection to alice", total.Elapsed);

            // A js peer on the internet reaches her through the relay too, and pings her both ways over it.
            JsonElement dialed = await other.CommandAsync("dial", new JsonObject { ["addr"] = $"{circuit}/p2p/{alice.PeerId}" }, Ct);
            Assert.Equal(alice.PeerId, dialed.GetProperty("peerId").GetString());
            // js wants an unlimited connection for the ping, so it opens a second circuit and then keeps the
            // first; alice keeps the first too, so the ping crosses it at once.
            JsonElement pinged = await other.CommandAsync("ping", new JsonObject { ["peer"] = alice.PeerId }, Ct);
            Assert.True(pinged.GetProperty("rttMs").GetDouble() >= 0);
            JsonElement connections = await other.CommandAsync("connections", null, Ct);
            Assert.Contains(connections.GetProperty("connections").EnumerateArray(),
                c => c.GetProperty("peerId").GetString() == alice.PeerId && c.GetProperty("limited").GetBoolean());
            await WaitForLogAsync(aliceLog, $"Relayed connection from {other.PeerId} through {relay.PeerId}", TimeSpan.FromSeconds(10));
            Report("js peer: relayed connection to alice, pinged", total.Elapsed);
        }
        finally
        {
            await lab.DisposeAsync();
            logs.Delete(recursive: true);
        }
        Report("whole scenario", total.Elapsed);
    }

    [Fact(Timeout = 120_000)]
    public async Task The_js_relays_4_KiB_data_limit_cuts_a_circuit_and_a_new_dial_works()
    {
        // The pings must cross the circuit: as above, no direct way from alice to the js peer; and the js
        // peer a DHT client, so alice's DHT does not learn its address from the relay when it dials the
        // circuit (a direct connection then carried the pings and the circuit was never cut).
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 2, RelayDataLimit = 4096, ConnectJsNodes = false, JsDhtServers = 1 }, Ct);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-relay-lab-");
        try
        {
            LabJsNode relay = lab.JsNodes[0], other = lab.JsNodes[1];
            string aliceLog = Path.Combine(logs.FullName, "alice.log");
            EchoChatProcess alice = await lab.StartEchoAsync(lab.HomeA, "alice", [.. Args(aliceLog, relay.Address), "--reserve-relays", "--no-hole-punch"], Ct, Port);
            Reservation reservation = await NextReservationAsync(aliceLog, [relay.PeerId], 0, TimeSpan.FromSeconds(30));
            Assert.Equal(4096, reservation.Bytes);
            string address = $"/ip4/{relay.Host.Address}/tcp/{LabJsNode.Port}/p2p/{relay.PeerId}/p2p-circuit/p2p/{alice.PeerId}";

            // Pings over the circuit until the relay cuts it at 4 KiB, both directions together (a ping that
            // meets the cut fails; the next one dials a new circuit).
            await other.CommandAsync("dial", new JsonObject { ["addr"] = address }, Ct);
            string disconnected = $"Disconnected from {other.PeerId}";
            int pings = 0;
            while (!LabWait.ReadLog(aliceLog).Contains(disconnected, StringComparison.Ordinal))
            {
                Assert.True(++pings < 400, "the relay never cut the circuit");
                try
                {
                    await other.CommandAsync("ping", new JsonObject { ["peer"] = alice.PeerId, ["timeoutMs"] = 5000 }, Ct);
                }
                catch (InvalidOperationException)
                {
                    // the ping the cut met
                }
            }
            Report(string.Create(CultureInfo.InvariantCulture, $"pings until the 4 KiB cut: {pings}"), TimeSpan.Zero);

            // Alice's reservation survives the cut circuit: a dial after it gets a new circuit that carries pings.
            // The js peer may not have seen the cut yet when alice logged it: its dial then returns the dying
            // connection and the ping meets its end, so the dial is tried again (a few times at most).
            JsonElement? pinged = null;
            for (int attempt = 0; attempt < 5 && pinged is null; attempt++)
            {
                try
                {
                    await other.CommandAsync("dial", new JsonObject { ["addr"] = address }, Ct);
                    pinged = await other.CommandAsync("ping", new JsonObject { ["peer"] = alice.PeerId, ["timeoutMs"] = 5000 }, Ct);
                }
                catch (InvalidOperationException e) when (attempt < 4)
                {
                    Report($"dial and ping after the cut, attempt {attempt + 1}: {e.Message}", TimeSpan.Zero);
                }
            }
            Assert.True(pinged!.Value.GetProperty("rttMs").GetDouble() >= 0);
            Assert.True(Regex.Count(LabWait.ReadLog(aliceLog), $"Relayed connection from {other.PeerId}") >= 2);
            Assert.All(Reservations(aliceLog), r => Assert.Equal(relay.PeerId, r.Relay));
            Assert.DoesNotContain("Unhandled", LabWait.ReadLog(aliceLog), StringComparison.Ordinal);
        }
        finally
        {
            await lab.DisposeAsync();
            logs.Delete(recursive: true);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task A_killed_relay_is_replaced_within_30_s()
    {
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 3, JsRelays = 3 }, Ct);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-relay-lab-");
        try
        {
            string aliceLog = Path.Combine(logs.FullName, "alice.log");
            string[] relays = [.. lab.JsNodes.Select(n => n.PeerId)];
            await lab.StartEchoAsync(lab.HomeA, "alice", [.. Args(aliceLog, [.. lab.JsNodes.Select(n => n.Address)]), "--reserve-relays"], Ct, Port);
            await TestHosts.WaitUntilAsync(() => Reservations(aliceLog).Select(r => r.Relay).Distinct().Count() == 2,
                "alice holds two reservations", TimeSpan.FromSeconds(30));
            List<Reservation> before = Reservations(aliceLog);
            string[] used = [.. before.Select(r => r.Relay).Distinct()];
            string spare = relays.Except(used).Single();

            LabJsNode killed = lab.JsNodes.Single(n => n.PeerId == used[0]);
            Stopwatch clock = Stopwatch.StartNew();
            killed.Kill();
            Reservation replacement = await NextReservationAsync(aliceLog, [spare], before.Count, TimeSpan.FromSeconds(30));
            Report("killed relay to a reservation on the spare one", clock.Elapsed);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30));
            Assert.Equal(spare, replacement.Relay);
            await WaitForLogAsync(aliceLog, $"Relay reservation on {killed.PeerId} ended", TimeSpan.FromSeconds(5));
        }
        finally
        {
            await lab.DisposeAsync();
            logs.Delete(recursive: true);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task A_public_echo_node_serves_reservations_and_circuits_to_natted_echo_nodes()
    {
        NatLab lab = await NatLab.CreateAsync(new NatLabOptions { JsNodes = 1, FirstJsNodeIsRelay = false }, Ct);
        DirectoryInfo logs = Directory.CreateTempSubdirectory("echo-relay-lab-");
        try
        {
            LabHost publicHost = await lab.AddPublicHostAsync(Ct);
            string relayLog = Path.Combine(logs.FullName, "relay.log"), aliceLog = Path.Combine(logs.FullName, "alice.log"),
                bobLog = Path.Combine(logs.FullName, "bob.log");
            EchoChatProcess relay = await lab.StartEchoAsync(publicHost, "relay", [.. Args(relayLog, lab.JsNodes[0].Address), "--relay-service"], Ct, Port);
            string relayAddress = $"/ip4/{publicHost.Address}/tcp/{Port}/p2p/{relay.PeerId}";
            await WaitForLogAsync(relayLog, "Relay service on", TimeSpan.FromSeconds(10));

            EchoChatProcess alice = await lab.StartEchoAsync(lab.HomeA, "alice", [.. Args(aliceLog, relayAddress), "--reserve-relays"], Ct, Port);
            Reservation reservation = await NextReservationAsync(aliceLog, [relay.PeerId], 0, TimeSpan.FromSeconds(30));
            Assert.Equal((120, 131072L, "verified"), (reservation.Seconds, reservation.Bytes, reservation.Voucher));
            Assert.Contains($"{relayAddress}/p2p-circuit", reservation.Addresses);

            EchoChatProcess bob = await lab.StartEchoAsync(lab.HomeB, "bob", Args(bobLog, relayAddress), Ct, Port);
            await bob.SendLineAsync($"/connect {relayAddress}/p2p-circuit/p2p/{alice.PeerId}");
            await NoticeAsync(bob, $"connected to {alice.PeerId}");
            await WaitForLogAsync(aliceLog, $"Relayed connection from {bob.PeerId} through {relay.PeerId} (limit 120 s, 131072 bytes)", TimeSpan.FromSeconds(10));

            // A peer without a reservation cannot be reached through it.
            await bob.SendLineAsync($"/connect {relayAddress}/p2p-circuit/p2p/{lab.JsNodes[0].PeerId}");
            JsonElement error = await bob.NextAsync(e => e.GetProperty("type").GetString() == "error", TimeSpan.FromSeconds(30), Ct);
            Assert.Contains("NO_RESERVATION", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            await lab.DisposeAsync();
            logs.Delete(recursive: true);
        }
    }
}
