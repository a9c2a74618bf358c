using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Relay;
using Echo.Net.Relay.Pb;
using Echo.Net.ResourceManager;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Net.Tests.Relay;

/// <summary>
/// The relay limits of docs/LIMITS.md (L-relay-reservations, L-relay-circuits, L-relay-client) on
/// loopback: each default as documented, and each cap refusing exactly what passes it.
/// </summary>
public sealed class RelayLimitTests : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    private readonly List<IAsyncDisposable> _owned = [];

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
    }

    private async Task<Libp2pHost> HostAsync()
    {
        Libp2pHost host = await TestHosts.StartAsync();
        _owned.Add(host);
        return host;
    }

    private async Task<Libp2pHost> RelayAsync(RelayServiceOptions options)
    {
        Libp2pHost host = await HostAsync();
        RelayService service = new(host, options with { Mode = RelayServiceMode.On }, NullLoggerFactory.Instance);
        _owned.Add(service);
        service.Start();
        return host;
    }

    private async Task<(Libp2pHost Host, RelayClient Client)> ClientAsync(RelayClientOptions options, bool start)
    {
        Libp2pHost host = await HostAsync();
        host.AllowOnLimitedConnections(TestHosts.EchoProtocol);
        RelayClient client = new(host, options, NullLoggerFactory.Instance);
        _owned.Add(client);
        if (start)
            client.Start();
        return (host, client);
    }

    private static readonly RelayClientOptions Eager = new() { ReserveAlways = true, CheckInterval = TimeSpan.FromMilliseconds(100) };

    private static async Task<HopMessage> AskAsync(Libp2pHost from, PeerId relay, IMessage message)
    {
        P2PStream stream = await Bounded(from.OpenStreamAsync(relay, RelayCodec.HopProtocol, Ct));
        await stream.Output.WriteAsync(LengthPrefixed.Encode(message.ToByteArray()), Ct);
        HopMessage? answer = await RelayCodec.ReadHopAsync(stream.Input, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.NotNull(answer);
        return answer;
    }

    private static readonly HopMessage Reserve = new() { Type = HopMessage.Types.Type.Reserve };

    [Fact(Timeout = 60_000)]
    public async Task TheRelayHolds128Reservations_8PerIp_ForAnHour_AndRefusesTheOnePastTheCap()
    {
        RelayServiceOptions defaults = new();
        Assert.Equal((128, 8, TimeSpan.FromHours(1)), (defaults.MaxReservations, defaults.MaxReservationsPerIp, defaults.ReservationTtl));

        // The cap counts reservations, whatever their IP: two held, the third peer refused.
        Libp2pHost relay = await RelayAsync(new RelayServiceOptions { MaxReservations = 2, MaxReservationsPerIp = 100 });
        Libp2pHost[] peers = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => HostAsync()));
        foreach (Libp2pHost peer in peers)
            await Bounded(peer.DialAsync(TestHosts.AddressOf(relay), Ct));
        HopMessage first = await AskAsync(peers[0], relay.PeerId, Reserve);
        Assert.Equal(Status.Ok, first.Status);
        // The default lifetime: the answer's expiry is an hour away.
        Assert.InRange(DateTimeOffset.FromUnixTimeSeconds((long)first.Reservation.Expire) - DateTimeOffset.UtcNow,
            TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(61));
        Assert.Equal(Status.Ok, (await AskAsync(peers[1], relay.PeerId, Reserve)).Status);
        Assert.Equal(Status.ReservationRefused, (await AskAsync(peers[2], relay.PeerId, Reserve)).Status);
        // A refresh by a holder is no new reservation.
        Assert.Equal(Status.Ok, (await AskAsync(peers[0], relay.PeerId, Reserve)).Status);
        Assert.Equal(1, relay.ResourceSnapshot().Refused[LimitKind.RelayReservations]);
    }

    [Fact(Timeout = 60_000)]
    public async Task TheRelayCarries256CircuitsInAll_16PerPeer_AndRefusesTheOnePastTheTotal()
    {
        RelayServiceOptions defaults = new();
        Assert.Equal((256, 16), (defaults.MaxCircuits, defaults.MaxCircuitsPerPeer));

        Libp2pHost relay = await RelayAsync(new RelayServiceOptions { MaxCircuits = 2 });
        (Libp2pHost a, RelayClient aClient) = await ClientAsync(Eager, start: true);
        await Bounded(a.DialAsync(TestHosts.AddressOf(relay), Ct));
        await TestHosts.WaitUntilAsync(() => aClient.Reservations.Count == 1, "A holds a reservation");
        Multiaddr circuit = aClient.Reservations[0].CircuitAddresses[0].WithPeerId(a.PeerId);

        (Libp2pHost Host, RelayClient Client)[] dialers = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => ClientAsync(Eager, start: false)));
        await Bounded(dialers[0].Host.DialAsync(circuit, Ct));
        await Bounded(dialers[1].Host.DialAsync(circuit, Ct));
        DialFailedException refused = await Assert.ThrowsAsync<DialFailedException>(() => dialers[2].Host.DialAsync(circuit, Ct));
        Assert.Contains("RESOURCE_LIMIT_EXCEEDED", refused.Reason, StringComparison.Ordinal);
        Assert.Equal(1, relay.ResourceSnapshot().Refused[LimitKind.RelayCircuits]);
    }

    /// <summary>
    /// 17 peers dial A through one relay at once (whose own per-peer cap is lifted): A takes 16, its
    /// cap per relay, all together. Every circuit's address is the relay's, so the per-address caps
    /// (8 connections, 4 in their handshake) must not apply to circuits.
    /// </summary>
    [Fact(Timeout = 90_000)]
    public async Task OneRelayBringsUsAtMost16CircuitsAtOnce_AndTheyAreNotCappedAsOneAddress()
    {
        Assert.Equal(16, new RelayClientOptions().MaxCircuitsPerRelay);
        Libp2pHost relay = await RelayAsync(new RelayServiceOptions { MaxCircuitsPerPeer = 64 });
        (Libp2pHost a, RelayClient aClient) = await ClientAsync(Eager, start: true);
        await Bounded(a.DialAsync(TestHosts.AddressOf(relay), Ct));
        await TestHosts.WaitUntilAsync(() => aClient.Reservations.Count == 1, "A holds a reservation");
        Multiaddr circuit = aClient.Reservations[0].CircuitAddresses[0].WithPeerId(a.PeerId);
        (Libp2pHost Host, RelayClient Client)[] dialers = await Task.WhenAll(Enumerable.Range(0, 17).Select(_ => ClientAsync(Eager, start: false)));
        foreach ((Libp2pHost host, _) in dialers)
            await Bounded(host.DialAsync(TestHosts.AddressOf(relay), Ct));

        string?[] failures = await Bounded(Task.WhenAll(dialers.Select(async d =>
        {
            try
            {
                await d.Host.DialAsync(circuit, Ct);
                return null;
            }
            catch (DialFailedException e)
            {
                return e.Reason;
            }
        })));
        Assert.True(failures.Count(f => f is null) == 16, "16 circuits expected; refusals: " + string.Join(" | ", failures.Where(f => f is not null)));
        Assert.Equal(16, a.Connections.Count(c => c.IsLimited));
    }

    [Fact(Timeout = 60_000)]
    public async Task AReservationKeepsAtMost8RelayAddresses_AHopExchangeEndsAfterTheRequestTimeout()
    {
        RelayClientOptions defaults = new();
        Assert.Equal((8, TimeSpan.FromSeconds(30)), (defaults.MaxRelayAddresses, defaults.RequestTimeout));

        // A relay that answers RESERVE with ten addresses; then one that never answers.
        bool answer = true;
        Libp2pHost relay = await HostAsync();
        relay.SetStreamHandler(RelayCodec.HopProtocol, async (stream, ct) =>
        {
            HopMessage? request = await RelayCodec.ReadHopAsync(stream.Input, ct);
            if (request is null)
                return;
            if (!Volatile.Read(ref answer))
            {
                await Task.Delay(Timeout.Infinite, ct);
                return;
            }
            HopMessage ok = RelayCodec.HopStatus(Status.Ok);
            ok.Reservation = new Reservation { Expire = (ulong)DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() };
            for (int i = 0; i < 10; i++)
                ok.Reservation.Addrs.Add(ByteString.CopyFrom(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/{20000 + i}").ToBytes()));
            await RelayCodec.WriteAsync(stream.Output, ok, ct);
            await stream.CompleteOutputAsync();
        });
        (Libp2pHost a, RelayClient aClient) = await ClientAsync(Eager with { RequestTimeout = TimeSpan.FromSeconds(1) }, start: false);
        Connection connection = await Bounded(a.DialAsync(TestHosts.AddressOf(relay), Ct));
        RelayReservation reservation = await Bounded(aClient.ReserveAsync(connection, Ct));
        Assert.Equal(8, reservation.RelayAddresses.Count);
        Assert.Equal(Multiaddr.Parse($"/ip4/127.0.0.1/tcp/20007").WithPeerId(relay.PeerId), reservation.RelayAddresses[^1]);

        Volatile.Write(ref answer, false);
        System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => aClient.ReserveAsync(connection, Ct));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(20));
    }

    [Theory(Timeout = 60_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ARelayThatRefused_IsNotAskedAgainDuringTheBackoff(bool backoff)
    {
        Assert.Equal(TimeSpan.FromMinutes(10), new RelayClientOptions().FailureBackoff);
        int asked = 0;
        Libp2pHost relay = await HostAsync();
        relay.SetStreamHandler(RelayCodec.HopProtocol, async (stream, ct) =>
        {
            if (await RelayCodec.ReadHopAsync(stream.Input, ct) is null)
                return;
            Interlocked.Increment(ref asked);
            await RelayCodec.WriteAsync(stream.Output, RelayCodec.HopStatus(Status.ReservationRefused), ct);
            await stream.CompleteOutputAsync();
        });
        RelayClientOptions options = backoff ? Eager : Eager with { FailureBackoff = TimeSpan.Zero };
        (Libp2pHost a, _) = await ClientAsync(options, start: true);
        await Bounded(a.DialAsync(TestHosts.AddressOf(relay), Ct));
        await TestHosts.WaitUntilAsync(() => Volatile.Read(ref asked) >= 1, "the relay is asked");
        if (backoff)
        {
            // Twenty check intervals: no second question.
            await Task.Delay(TimeSpan.FromSeconds(2), Ct);
            Assert.Equal(1, Volatile.Read(ref asked));
        }
        else
            await TestHosts.WaitUntilAsync(() => Volatile.Read(ref asked) >= 3, "without a back-off the relay is asked again");
    }
}
