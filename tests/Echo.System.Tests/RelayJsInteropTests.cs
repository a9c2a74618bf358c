using System.Text.Json;
using System.Text.Json.Nodes;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Relay;
using Echo.TestKit.Lab;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.SystemTests;

/// <summary>
/// Circuit relay v2 between Echo and js-libp2p (lab/js/node.mjs) on 127.0.0.1: js nodes reserve on our
/// relay and read its limit as the spec means it (duration in seconds), and a ping right after a dial
/// through a relay crosses the circuit, our relay's or js's, with an Echo or a js peer at the end.
/// </summary>
public sealed class RelayJsInteropTests : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<KeyPair> _keys = [];

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
        foreach (KeyPair key in _keys)
            key.Dispose();
    }

    private static void RequireJs()
    {
        if (LabJsNode.Installed)
            return;
        string missing = $"the lab's js packages are not installed in {LabJsNode.Directory} (scripts/test-setup.sh installs them)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail(missing);
        Assert.Skip(missing);
    }

    private async Task<LabJsNode> StartJsAsync(bool relay = false)
    {
        RequireJs();
        LabJsNode node = await LabJsNode.StartOnLoopbackAsync(Ct, relay);
        _owned.Add(node);
        return node;
    }

    /// <summary>An Echo host on loopback with our relay service on (go's default limits).</summary>
    private async Task<Libp2pHost> StartEchoRelayAsync()
    {
        Libp2pHost host = await TestHosts.StartAsync();
        _owned.Add(host);
        RelayService relay = new(host, new RelayServiceOptions { Mode = RelayServiceMode.On }, NullLoggerFactory.Instance);
        _owned.Add(relay);
        relay.Start();
        return host;
    }

    /// <summary>
    /// An Echo host with a relay client (reserving on connected relays when <paramref name="reserve"/>);
    /// <paramref name="listen"/> false: no listen address, so like a peer behind a NAT it is reachable
    /// only through its relay, and a dialer that wants another connection makes another circuit.
    /// </summary>
    private async Task<(Libp2pHost Host, RelayClient Client)> StartEchoPeerAsync(bool reserve, bool listen = true)
    {
        Libp2pHost host;
        if (listen)
            host = await TestHosts.StartAsync();
        else
        {
            KeyPair key = KeyPair.Generate();
            _keys.Add(key);
            host = new Libp2pHost(key, new HostOptions(), NullLoggerFactory.Instance);
            await host.StartAsync(Ct);
        }
        _owned.Add(host);
        RelayClient client = new(host, new RelayClientOptions { ReserveAlways = true, DesiredReservations = 1, CheckInterval = TimeSpan.FromMilliseconds(200) },
            NullLoggerFactory.Instance);
        _owned.Add(client);
        if (reserve)
            client.Start();
        return (host, client);
    }

    private static async Task<JsonElement> LimitedConnectionAsync(LabJsNode node, string peer)
    {
        JsonElement reply = await node.CommandAsync("connections", null, Ct);
        return reply.GetProperty("connections").EnumerateArray()
            .Single(c => c.GetProperty("peerId").GetString() == peer && c.GetProperty("limited").GetBoolean());
    }

    private static void AssertSpecLimit(JsonElement connection)
    {
        // js's circuit transport turns limit.duration into an expiry of duration × 1000 ms and reports the
        // seconds left: our 120 s must read as about 120 s (sent in ms it would read as 120000 s).
        double seconds = connection.GetProperty("limitSeconds").GetDouble();
        Assert.InRange(seconds, 60, 120);
        // and counts down the data limit as bytes cross.
        Assert.InRange(connection.GetProperty("limitBytes").GetInt64(), 100_000, 131_072);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_js_node_reserves_on_our_relay_and_both_js_ends_of_a_circuit_read_its_limit_in_seconds()
    {
        Libp2pHost relay = await StartEchoRelayAsync();
        LabJsNode listener = await StartJsAsync(), dialer = await StartJsAsync();
        string relayAddress = TestHosts.AddressOf(relay).ToString();

        JsonElement reserved = await listener.CommandAsync("reserve", new JsonObject { ["addr"] = relayAddress + "/p2p-circuit" }, Ct);
        string circuit = $"{relayAddress}/p2p-circuit/p2p/{listener.PeerId}";
        Assert.Contains(circuit, reserved.GetProperty("addrs").EnumerateArray().Select(a => a.GetString()));

        JsonElement dialed = await dialer.CommandAsync("dial", new JsonObject { ["addr"] = circuit }, Ct);
        Assert.Equal(listener.PeerId, dialed.GetProperty("peerId").GetString());
        JsonElement pinged = await dialer.CommandAsync("ping", new JsonObject { ["peer"] = listener.PeerId }, Ct);
        Assert.True(pinged.GetProperty("rttMs").GetDouble() >= 0);

        AssertSpecLimit(await LimitedConnectionAsync(dialer, listener.PeerId));
        AssertSpecLimit(await LimitedConnectionAsync(listener, dialer.PeerId));
    }

    [Fact(Timeout = 90_000)]
    public async Task An_echo_peer_reaches_a_js_node_through_our_relay_and_pings_it_at_once()
    {
        Libp2pHost relay = await StartEchoRelayAsync();
        LabJsNode listener = await StartJsAsync();
        string relayAddress = TestHosts.AddressOf(relay).ToString();
        await listener.CommandAsync("reserve", new JsonObject { ["addr"] = relayAddress + "/p2p-circuit" }, Ct);
        (Libp2pHost echo, _) = await StartEchoPeerAsync(reserve: false);

        Connection connection = await echo.DialAsync(Multiaddr.Parse($"{relayAddress}/p2p-circuit/p2p/{listener.PeerId}"), Ct);
        Assert.Equal(new ConnectionLimit(TimeSpan.FromMinutes(2), 131_072), connection.Limit);
        TimeSpan rtt = await echo.PingAsync(PeerId.Parse(listener.PeerId), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.True(rtt >= TimeSpan.Zero);
    }

    /// <summary>
    /// js dials an Echo peer reachable only through a relay (js's, then ours) and pings it straight
    /// away, five fresh dialers each: every first ping must cross. js's ping wants an unlimited
    /// connection, so it opens a second circuit to the peer, finds it a duplicate of the first (the
    /// same circuit address), aborts it and pings over the first; the Echo peer must keep the first
    /// of two relayed connections too (it kept the newer one, closing the one the ping was on).
    /// </summary>
    [Theory(Timeout = 120_000)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_js_ping_right_after_a_dial_through_a_relay_to_an_echo_peer_crosses_the_circuit(bool jsRelay)
    {
        string relayAddress;
        PeerId relayId;
        if (jsRelay)
        {
            LabJsNode relayNode = await StartJsAsync(relay: true);
            relayAddress = relayNode.LoopbackAddress;
            relayId = PeerId.Parse(relayNode.PeerId);
        }
        else
        {
            Libp2pHost relayHost = await StartEchoRelayAsync();
            relayAddress = TestHosts.AddressOf(relayHost).ToString();
            relayId = relayHost.PeerId;
        }
        (Libp2pHost alice, RelayClient aliceRelay) = await StartEchoPeerAsync(reserve: true, listen: false);
        await alice.DialAsync(Multiaddr.Parse(relayAddress), Ct);
        await TestHosts.WaitUntilAsync(() => aliceRelay.Reservations.Any(r => r.Relay == relayId), "alice's reservation", TimeSpan.FromSeconds(30));
        string circuit = $"{relayAddress}/p2p-circuit/p2p/{alice.PeerId}";

        for (int round = 0; round < 5; round++)
        {
            LabJsNode dialer = await StartJsAsync();
            JsonElement dialed = await dialer.CommandAsync("dial", new JsonObject { ["addr"] = circuit }, Ct);
            Assert.Equal(alice.PeerId.ToString(), dialed.GetProperty("peerId").GetString());
            JsonElement pinged = await dialer.CommandAsync("ping", new JsonObject { ["peer"] = alice.PeerId.ToString(), ["timeoutMs"] = 10_000 }, Ct);
            Assert.True(pinged.GetProperty("rttMs").GetDouble() >= 0);
            await dialer.DisposeAsync();
        }
    }
}
