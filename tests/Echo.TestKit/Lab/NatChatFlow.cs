using System.Diagnostics;
using System.Text.Json;

namespace Echo.TestKit.Lab;

/// <summary>What one <see cref="NatChatFlow"/> run measured: start to both showing the other's first message, and that to both direct.</summary>
public sealed record NatChatTimings(TimeSpan FirstMessage, TimeSpan FirstMessageToDirect);

/// <summary>
/// Two NATed users who know only a room name, through the headless face: alice behind router A and
/// bob behind router B start with <c>--bootstrap</c> to every js node of the lab (Kademlia servers, the
/// first also a circuit relay) and <c>--room</c>, no <c>--connect</c>. Each sends a message at once
/// (before any connection), one when it shows the other's first (around the hole punch) and one
/// after both report the other <c>via: direct</c>. Checked: each gets a reservation from the js
/// relay (status OK, 120 s and 131,072 bytes, from the headless <c>relays</c> event); each shows
/// the other's first message within 60 s and reports it <c>via: direct</c> at the other router's
/// WAN address within 90 s; the relayed connection is gone (<c>/whois</c>); every message arrives
/// exactly once. Throws <see cref="TimeoutException"/> or <see cref="InvalidOperationException"/>
/// saying what failed.
/// </summary>
public static class NatChatFlow
{
    private sealed class Recorder : IAsyncDisposable
    {
        private readonly List<JsonElement> _events = [];
        private readonly Task _pump;

        public Recorder(EchoChatProcess process, CancellationToken cancellationToken)
        {
            Process = process;
            _pump = PumpAsync(cancellationToken);
        }

        public EchoChatProcess Process { get; }

        private async Task PumpAsync(CancellationToken cancellationToken)
        {
            await Task.Yield();
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    JsonElement e = await Process.NextAsync(_ => true, TimeSpan.FromMinutes(10), cancellationToken);
                    lock (_events)
                        _events.Add(e);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or TimeoutException)
            {
                // The process exited or the run ended.
            }
        }

        public List<JsonElement> Matching(Func<JsonElement, bool> match)
        {
            lock (_events)
                return [.. _events.Where(match)];
        }

        public async Task<JsonElement> WaitAsync(Func<JsonElement, bool> match, string what, TimeSpan timeout, CancellationToken cancellationToken)
        {
            JsonElement? found = null;
            await LabWait.UntilAsync(() =>
            {
                List<JsonElement> all = Matching(match);
                found = all.Count > 0 ? all[0] : null;
                return Task.FromResult(found is not null);
            }, what, timeout, cancellationToken, TimeSpan.FromMilliseconds(50));
            return found!.Value;
        }

        public async ValueTask DisposeAsync() => await _pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }


    private static string Type(JsonElement e) => e.GetProperty("type").GetString()!;

    private static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool IsMessage(JsonElement e, string room, string text, string from) =>
        Type(e) == "message" && Text(e, "room") == room && Text(e, "text") == text && Text(e, "from") == from;

    private static bool IsGrantedReservation(JsonElement e, string relayId) =>
        Type(e) == "relays" && e.TryGetProperty("reservations", out JsonElement list)
        && list.EnumerateArray().Any(r => Text(r, "relay")?.EndsWith("/p2p/" + relayId, StringComparison.Ordinal) == true
                                          && Text(r, "status") == "OK"
                                          && r.TryGetProperty("limitSeconds", out JsonElement s) && s.GetInt64() == 120
                                          && r.TryGetProperty("limitBytes", out JsonElement b) && b.GetInt64() == 131_072);

    private static bool IsDirectAt(JsonElement e, string peerId, string wanAddress) =>
        Type(e) == "peer" && Text(e, "peerId") == peerId && Text(e, "via") == "direct"
        && Text(e, "event") is "connected" or "updated"
        && Text(e, "address")?.StartsWith($"/ip4/{wanAddress}/tcp/", StringComparison.Ordinal) == true;

    /// <summary>
    /// Runs the flow once in <paramref name="lab"/> (js nodes started, the first a relay), both
    /// listening on <paramref name="port"/> (a fresh one per run in one lab: the last run's
    /// connections linger in TIME_WAIT); logs go to <paramref name="logDirectory"/>.
    /// </summary>
    public static async Task<NatChatTimings> RunAsync(NatLab lab, string room, string logDirectory, CancellationToken cancellationToken,
        Action<string>? report = null, int port = 4001)
    {
        ArgumentNullException.ThrowIfNull(lab);
        string relayId = lab.JsNodes[0].PeerId;
        string[] common = ["--public-range", NatLab.InternetSubnet, "--room", room, "--log-level", "debug",
            .. lab.JsNodes.SelectMany(n => (string[])["--bootstrap", n.Address])];
        Stopwatch clock = Stopwatch.StartNew();
        Task<EchoChatProcess> startAlice = lab.StartEchoAsync(lab.HomeA, "alice", [.. common, "--log-file", Path.Combine(logDirectory, "alice.log")], cancellationToken, port);
        Task<EchoChatProcess> startBob = lab.StartEchoAsync(lab.HomeB, "bob", [.. common, "--log-file", Path.Combine(logDirectory, "bob.log")], cancellationToken, port);
        EchoChatProcess aliceProcess = await startAlice, bobProcess = await startBob;
        using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await using Recorder alice = new(aliceProcess, stop.Token);
        await using Recorder bob = new(bobProcess, stop.Token);
        try
        {
            (Recorder Me, Recorder Other, string Name, string OtherWan)[] sides =
                [(alice, bob, "alice", lab.RouterB.WanAddress), (bob, alice, "bob", lab.RouterA.WanAddress)];

            // Before any connection.
            foreach ((Recorder me, _, string name, _) in sides)
                await me.Process.SendLineAsync($"{name} before");

            await Task.WhenAll(sides.Select(s => s.Me.WaitAsync(e => IsGrantedReservation(e, relayId),
                $"{s.Name}'s reservation on the js relay (OK, 120 s, 131072 bytes)", TimeSpan.FromSeconds(30), cancellationToken)));
            report?.Invoke($"both hold a reservation: {clock.ElapsedMilliseconds} ms");

            await Task.WhenAll(sides.Select(s => s.Me.WaitAsync(e => IsMessage(e, room, $"{OtherName(s.Name)} before", s.Other.Process.PeerId),
                $"{s.Name} shows the other's first message", TimeSpan.FromSeconds(60) - clock.Elapsed, cancellationToken)));
            TimeSpan firstMessage = clock.Elapsed;
            report?.Invoke($"both show the other's first message: {firstMessage.TotalMilliseconds:0} ms");

            // Around the upgrade (the punch follows the relayed connection within about a second).
            foreach ((Recorder me, _, string name, _) in sides)
                await me.Process.SendLineAsync($"{name} during");

            await Task.WhenAll(sides.Select(s => s.Me.WaitAsync(e => IsDirectAt(e, s.Other.Process.PeerId, s.OtherWan),
                $"{s.Name} reports the other via direct at {s.OtherWan}", TimeSpan.FromSeconds(90) - clock.Elapsed, cancellationToken)));
            TimeSpan direct = clock.Elapsed - firstMessage;
            report?.Invoke($"both report the other via direct: {clock.ElapsedMilliseconds} ms");

            foreach ((Recorder me, _, string name, _) in sides)
                await me.Process.SendLineAsync($"{name} after");

            // The relayed connection closes after its grace period: /whois lists only the direct one.
            foreach ((Recorder me, Recorder other, string name, _) in sides)
            {
                await LabWait.UntilAsync(() => RelayedConnectionGoneAsync(me, other.Process.PeerId, cancellationToken),
                    $"{name}'s relayed connection to the other is gone", TimeSpan.FromSeconds(40), cancellationToken, TimeSpan.FromSeconds(1));
            }
            report?.Invoke($"relayed connections gone: {clock.ElapsedMilliseconds} ms");

            // Every message once: a last one marks the end of what each sent.
            foreach ((Recorder me, _, string name, _) in sides)
                await me.Process.SendLineAsync($"{name} end");
            foreach ((Recorder me, Recorder other, string name, _) in sides)
            {
                string otherName = OtherName(name);
                await me.WaitAsync(e => IsMessage(e, room, $"{otherName} end", other.Process.PeerId), $"{name} shows the other's last message",
                    TimeSpan.FromSeconds(20), cancellationToken);
                foreach (string phase in (string[])["before", "during", "after", "end"])
                {
                    List<JsonElement> shown = me.Matching(e => IsMessage(e, room, $"{otherName} {phase}", other.Process.PeerId));
                    if (shown.Count != 1)
                    {
                        throw new InvalidOperationException(
                            $"{name} showed \"{otherName} {phase}\" {shown.Count} times: {string.Join(" | ", shown.Select(e => e.GetRawText()))}");
                    }
                }
            }
            return new NatChatTimings(firstMessage, direct);
        }
        finally
        {
            await stop.CancelAsync();
            await aliceProcess.DisposeAsync();
            await bobProcess.DisposeAsync();
        }
    }

    private static string OtherName(string name) => name == "alice" ? "bob" : "alice";

    /// <summary>Asks <c>/whois</c> and reads whether the answer lists no relayed connection to <paramref name="peerId"/>.</summary>
    private static async Task<bool> RelayedConnectionGoneAsync(Recorder me, string peerId, CancellationToken cancellationToken)
    {
        int before = me.Matching(e => Type(e) == "whois" && Text(e, "peerId") == peerId).Count;
        await me.Process.SendLineAsync($"/whois {peerId}");
        JsonElement answer = default;
        await LabWait.UntilAsync(() =>
        {
            List<JsonElement> all = me.Matching(e => Type(e) == "whois" && Text(e, "peerId") == peerId);
            if (all.Count <= before)
                return Task.FromResult(false);
            answer = all[^1];
            return Task.FromResult(true);
        }, "the /whois answer", TimeSpan.FromSeconds(10), cancellationToken);
        return answer.TryGetProperty("connections", out JsonElement connections)
               && connections.GetArrayLength() > 0
               && connections.EnumerateArray().All(c => c.TryGetProperty("relayed", out JsonElement r) && !r.GetBoolean());
    }
}
