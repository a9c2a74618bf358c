using System.Net;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Relay;
using Echo.Net.Relay.Pb;
using Echo.Net.ResourceManager;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Relay;

/// <summary>
/// Circuit relay v2 between in-process hosts on loopback: an Echo relay service, a peer A holding a
/// reservation, a peer B dialing A through it; the refusals with the spec's status codes.
/// </summary>
public sealed class RelayLoopbackTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<T> Bounded<T>(Task<T> task) => task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

    private static readonly RelayClientOptions Eager = new() { ReserveAlways = true, CheckInterval = TimeSpan.FromMilliseconds(200) };

    /// <summary>A host, its relay service (always on), its relay client (not started) and what they own.</summary>
    private sealed class Node : IAsyncDisposable
    {
        public required Libp2pHost Host { get; init; }
        public RelayService? Service { get; init; }
        public required RelayClient Client { get; init; }

        public PeerId Id => Host.PeerId;

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            if (Service is not null)
                await Service.DisposeAsync();
            await Host.DisposeAsync();
        }
    }

    private static async Task<Node> StartAsync(RelayServiceOptions? service = null, RelayClientOptions? client = null, bool startClient = false,
        bool publicLoopback = false, TimeProvider? time = null)
    {
        // publicLoopback: loopback counts as public, so the host advertises a public address.
        Libp2pHost host = await TestHosts.StartAsync(publicLoopback ? new HostOptions { PublicRanges = [IPNetwork.Parse("127.0.0.0/8")] } : null);
        host.AllowOnLimitedConnections(TestHosts.EchoProtocol);
        RelayService? relay = null;
        if (service is not null)
        {
            relay = new RelayService(host, service with { Mode = RelayServiceMode.On }, NullLoggerFactory.Instance);
            relay.Start();
        }
        RelayClient relayClient = new(host, client ?? Eager, NullLoggerFactory.Instance, time);
        if (startClient)
            relayClient.Start();
        return new Node { Host = host, Service = relay, Client = relayClient };
    }

    private static async Task EchoAsync(Libp2pHost from, PeerId to, int bytes = 5000)
    {
        P2PStream stream = await Bounded(from.OpenStreamAsync(to, TestHosts.EchoProtocol, Ct));
        byte[] data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(bytes);
        (byte[] hash, long length) = await Bounded(TestHosts.EchoRoundTripAsync(stream, data, Ct));
        Assert.Equal(data.Length, length);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(data), hash);
    }

    private static async Task<HopMessage> AskAsync(Libp2pHost from, PeerId relay, byte[] raw)
    {
        P2PStream stream = await Bounded(from.OpenStreamAsync(relay, RelayCodec.HopProtocol, Ct));
        await stream.Output.WriteAsync(raw, Ct);
        HopMessage? answer = await RelayCodec.ReadHopAsync(stream.Input, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.NotNull(answer);
        return answer;
    }

    private static byte[] Framed(IMessage message) => LengthPrefixed.Encode(message.ToByteArray());

    private static HopMessage ConnectTo(PeerId peer) =>
        new() { Type = HopMessage.Types.Type.Connect, Peer = new Peer { Id = ByteString.CopyFrom(peer.ToBytes()) } };

    [Fact(Timeout = 60_000)]
    public async Task AReservesOnAnEchoRelay_BDialsAThroughIt_TheConnectionIsLimited_AndStreamsWorkBothWays()
    {
        await using Node relay = await StartAsync(new RelayServiceOptions());
        await using Node a = await StartAsync(client: Eager, startClient: true);
        await using Node b = await StartAsync();
        await using Node c = await StartAsync();
        await Bounded(c.Host.DialAsync(TestHosts.AddressOf(a.Host), Ct));
        await Bounded(TestHosts.Identified(c.Host, a.Id));

        await Bounded(a.Host.DialAsync(TestHosts.AddressOf(relay.Host), Ct));
        await TestHosts.WaitUntilAsync(() => a.Client.Reservations.Count == 1, "A holds a reservation");
        RelayReservation reservation = a.Client.Reservations[0];
        Assert.Equal(relay.Id, reservation.Relay);
        Assert.Equal(new ConnectionLimit(TimeSpan.FromMinutes(2), 131072), reservation.Limit);
        Assert.Equal(new RelayVoucher(relay.Id, a.Id, reservation.Expires), reservation.Voucher);
        Assert.InRange(reservation.Expires - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(59), TimeSpan.FromMinutes(61));
        Multiaddr circuit = TestHosts.AddressOf(relay.Host).Encapsulate(RelayAddressing.CircuitSuffix);
        Assert.Equal([circuit], reservation.CircuitAddresses);
        Assert.Contains(circuit, a.Host.AdvertisedAddresses);
        Assert.True(relay.Host.Resources.ConnectionManager.IsProtected(a.Id, RelayService.ProtectionTag));
        Assert.True(a.Host.Resources.ConnectionManager.IsProtected(relay.Id, RelayClient.ProtectionTag));
        // Identify push told the peers connected to A.
        await TestHosts.WaitUntilAsync(() => c.Host.PeerStore.Get(a.Id)?.ListenAddresses.Contains(circuit) == true,
            "C learns A's circuit address by identify push");

        Task<Connection> atA = TestHosts.NextConnected(a.Host, b.Id);
        Connection atB = await Bounded(b.Host.DialAsync(circuit.WithPeerId(a.Id), Ct));
        Connection inbound = await Bounded(atA);

        Assert.Equal((true, true, ConnectionRole.Initiator, ConnectionDirection.Outbound), (atB.IsLimited, atB.IsRelayed(), atB.Role, atB.Direction));
        Assert.Equal((true, true, ConnectionRole.Responder, ConnectionDirection.Inbound),
            (inbound.IsLimited, inbound.IsRelayed(), inbound.Role, inbound.Direction));
        Assert.Equal(new ConnectionLimit(TimeSpan.FromMinutes(2), 131072), atB.Limit);
        Assert.Equal(new ConnectionLimit(TimeSpan.FromMinutes(2), 131072), inbound.Limit);
        Assert.Equal(relay.Id, RelayAddressing.RelayOf(atB.RemoteAddress));
        Assert.Equal(a.Id, atB.RemotePeer);
        Assert.Equal(b.Id, inbound.RemotePeer);
        await EchoAsync(b.Host, a.Id);
        await EchoAsync(a.Host, b.Id);
        Assert.Equal(1, relay.Service!.Stats.Circuits);

        // A protocol not allowed on limited connections is refused there.
        await Assert.ThrowsAsync<LimitedConnectionException>(() => b.Host.OpenStreamAsync(a.Id, "/not/allowed/1.0.0", Ct));
    }

    [Fact(Timeout = 60_000)]
    public async Task ACircuitPastTheRelaysDataLimit_IsCut_AndANewDialWorks()
    {
        await using Node relay = await StartAsync(new RelayServiceOptions { CircuitDataBytes = 4096 });
        await using Node a = await StartAsync(client: Eager, startClient: true);
        await using Node b = await StartAsync();
        await Bounded(a.Host.DialAsync(TestHosts.AddressOf(relay.Host), Ct));
        await TestHosts.WaitUntilAsync(() => a.Client.Reservations.Count == 1, "A holds a reservation");
        Multiaddr address = a.Client.Reservations[0].CircuitAddresses[0].WithPeerId(a.Id);
        Connection first = await Bounded(b.Host.DialAsync(address, Ct));
        Assert.Equal(4096, first.Limit!.DataBytes);

        // 20 KB through a 4 KiB circuit: the relay resets it and both ends see the connection go.
        Task<Connection> gone = TestHosts.NextDisconnected(b.Host, a.Id);
        await Assert.ThrowsAnyAsync<Exception>(() => EchoAsync(b.Host, a.Id, 20_000));
        await Bounded(gone);
        Assert.True(first.IsClosed);
        await TestHosts.WaitUntilAsync(() => relay.Service!.Stats.Circuits == 0, "the relay let the circuit go");

        Connection second = await Bounded(b.Host.DialAsync(address, Ct));
        Assert.NotSame(first, second);
        await EchoAsync(b.Host, a.Id, 1000);
    }

    [Fact(Timeout = 60_000)]
    public async Task AReservation_IsRefreshedBeforeItExpires()
    {
        // The relay's expiry is in whole seconds and the refresh comes halfway: 10 s leaves seconds of room under load.
        await using Node relay = await StartAsync(new RelayServiceOptions { ReservationTtl = TimeSpan.FromSeconds(10) });
        await using Node a = await StartAsync(client: Eager, startClient: true);
        await Bounded(a.Host.DialAsync(TestHosts.AddressOf(relay.Host), Ct));
        await TestHosts.WaitUntilAsync(() => a.Client.Reservations.Count == 1, "A holds a reservation");
        RelayReservation first = a.Client.Reservations[0];
        await TestHosts.WaitUntilAsync(() => a.Client.Reservations is [{ } now] && now.Expires > first.Expires,
            "the reservation is refreshed", TimeSpan.FromSeconds(20));
        Assert.True(a.Client.Reservations[0].ObtainedAt < first.Expires);
    }

    [Fact(Timeout = 60_000)]
    public async Task ALostRelay_IsReplacedByAnotherCandidate()
    {
        Node relay1 = await StartAsync(new RelayServiceOptions());
        await using Node relay2 = await StartAsync(new RelayServiceOptions());
        await using Node a = await StartAsync(client: Eager with { DesiredReservations = 1 }, startClient: true);
        try
        {
            await Bounded(a.Host.DialAsync(TestHosts.AddressOf(relay1.Host), Ct));
            await TestHosts.WaitUntilAsync(() => a.Client.Reservations.Count == 1, "A holds a reservation on relay 1");
            Assert.Equal(relay1.Id, a.Client.Reservations[0].Relay);
            await Bounded(a.Host.DialAsync(TestHosts.AddressOf(relay2.Host), Ct));
            await Bounded(TestHosts.Identified(a.Host, relay2.Id));
            Assert.Equal(relay1.Id, a.Client.Reservations.Single().Relay);   // one is all it wants

            await relay1.DisposeAsync();
            await TestHosts.WaitUntilAsync(() => a.Client.Reservations is [{ } r] && r.Relay == relay2.Id,
                "A reserves on relay 2", TimeSpan.FromSeconds(30));
            Assert.DoesNotContain(a.Host.AdvertisedAddresses, m => RelayAddressing.RelayOf(m) == relay1.Id);
            Assert.Contains(a.Host.AdvertisedAddresses, m => RelayAddressing.RelayOf(m) == relay2.Id);
        }
        finally
        {
            await relay1.DisposeAsync();
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task WithoutAVerdict_ANodeWithNoPublicAddress_ReservesAtOnce()
    {
        // No AutoNAT verdict (a NAT whose AutoNAT servers are missing) and only a loopback address:
        // nobody could dial this node directly, so it takes a reservation.
        await using Node relay = await StartAsync(new RelayServiceOptions());
        await using Node a = await StartAsync(client: new RelayClientOptions { CheckInterval = TimeSpan.FromMilliseconds(100) }, startClient: true);
        Assert.True(a.Client.IsActive);
        await Bounded(a.Host.DialAsync(TestHosts.AddressOf(relay.Host), Ct));

        await TestHosts.WaitUntilAsync(() => a.Client.Reservations.Count == 1, "A holds a reservation without a verdict");
        Assert.Equal(relay.Id, a.Client.Reservations[0].Relay);
    }

    [Fact(Timeout = 30_000)]
    public async Task WithoutAVerdict_ANodeWithAPublicAddress_ReservesOnlyAfterTheGrace()
    {
        await using Node relay = await StartAsync(new RelayServiceOptions());
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        TimeSpan grace = TimeSpan.FromMinutes(1);
        await using Node a = await StartAsync(client: new RelayClientOptions { UnknownReachabilityGrace = grace, RequestTimeout = TimeSpan.FromHours(1) },
            startClient: true, publicLoopback: true, time: time);
        await Bounded(a.Host.DialAsync(TestHosts.AddressOf(relay.Host), Ct));
        await Bounded(TestHosts.Identified(a.Host, relay.Id));

        // The candidate is there and identified, but AutoNAT may still confirm the public address.
        Assert.False(a.Client.IsActive);
        time.Advance(grace - TimeSpan.FromSeconds(1));
        Assert.False(a.Client.IsActive);
        Assert.Empty(a.Client.Reservations);

        // Unconfirmed for the whole grace: it reserves (at its next round, every 10 s).
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(a.Client.IsActive);
        await TestHosts.WaitUntilAsync(() =>
        {
            time.Advance(TimeSpan.FromSeconds(1));
            return a.Client.Reservations.Count == 1;
        }, "A reserves after the grace", TimeSpan.FromSeconds(20));
        Assert.Equal(relay.Id, a.Client.Reservations[0].Relay);
    }

    [Fact(Timeout = 60_000)]
    public async Task BadHopRequests_AreRefusedWithTheSpecsStatusCodes()
    {
        await using Node relay = await StartAsync(new RelayServiceOptions());
        await using Node b = await StartAsync();
        await Bounded(b.Host.DialAsync(TestHosts.AddressOf(relay.Host), Ct));

        byte[] oversized = new byte[Varint.MaxLength + 5000];
        int n = Varint.Write(oversized, 5000);
        Assert.Equal(Status.MalformedMessage, (await AskAsync(b.Host, relay.Id, oversized[..(n + 5000)])).Status);
        Assert.Equal(Status.MalformedMessage, (await AskAsync(b.Host, relay.Id, LengthPrefixed.Encode([0x0a, 0xff]))).Status);
        Assert.Equal(Status.MalformedMessage, (await AskAsync(b.Host, relay.Id, Framed(new HopMessage()))).Status);
        Assert.Equal(Status.UnexpectedMessage, (await AskAsync(b.Host, relay.Id, Framed(RelayCodec.HopStatus(Status.Ok)))).Status);
        Assert.Equal(Status.UnexpectedMessage, (await AskAsync(b.Host, relay.Id, Framed(new HopMessage { Type = (HopMessage.Types.Type)7 }))).Status);
        Assert.Equal(Status.MalformedMessage, (await AskAsync(b.Host, relay.Id, Framed(new HopMessage { Type = HopMessage.Types.Type.Connect }))).Status);
        Assert.Equal(Status.NoReservation, (await AskAsync(b.Host, relay.Id, Framed(ConnectTo(KeyPair.Generate().PeerId)))).Status);
        Assert.Equal(7, relay.Service!.Stats.Refused);
        // The relay still serves.
        HopMessage reserved = await AskAsync(b.Host, relay.Id, Framed(new HopMessage { Type = HopMessage.Types.Type.Reserve }));
        Assert.Equal(Status.Ok, reserved.Status);
    }

    [Fact(Timeout = 60_000)]
    public async Task BadStopRequests_FromTheReservingRelay_AreRefusedWithTheSpecsStatusCodes_AndTheReservationStillServes()
    {
        await using Node relay = await StartAsync(new RelayServiceOptions());
        await using Node a = await StartAsync(client: Eager, startClient: true);
        await using Node b = await StartAsync();
        await Bounded(a.Host.DialAsync(TestHosts.AddressOf(relay.Host), Ct));
        await TestHosts.WaitUntilAsync(() => a.Client.Reservations.Count == 1, "A holds a reservation");

        async Task<Status> StopAsync(byte[] raw)
        {
            P2PStream stream = await Bounded(relay.Host.OpenStreamAsync(a.Id, RelayCodec.StopProtocol, Ct));
            await stream.Output.WriteAsync(raw, Ct);
            StopMessage? answer = await RelayCodec.ReadStopAsync(stream.Input, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Ct);
            Assert.NotNull(answer);
            Assert.Equal(StopMessage.Types.Type.Status, answer.Type);
            return answer.Status;
        }

        // A stop message announcing more than the 4 KiB cap is refused from its length prefix.
        byte[] oversized = new byte[Varint.MaxLength + 5000];
        int n = Varint.Write(oversized, 5000);
        Assert.Equal(Status.MalformedMessage, await StopAsync(oversized[..(n + 5000)]));
        Assert.Equal(Status.MalformedMessage, await StopAsync(LengthPrefixed.Encode([0x0a, 0xff])));
        Assert.Equal(Status.MalformedMessage, await StopAsync(Framed(new StopMessage())));
        Assert.Equal(Status.UnexpectedMessage, await StopAsync(Framed(RelayCodec.StopStatus(Status.Ok))));
        Assert.Equal(Status.MalformedMessage, await StopAsync(Framed(new StopMessage { Type = StopMessage.Types.Type.Connect })));
        Assert.Equal(Status.MalformedMessage, await StopAsync(Framed(new StopMessage
        {
            Type = StopMessage.Types.Type.Connect,
            Peer = new Peer { Id = ByteString.CopyFrom([0x00, 0x01, 0x02]) },
        })));
        // A circuit "from" the relay itself: PERMISSION_DENIED.
        Assert.Equal(Status.PermissionDenied, await StopAsync(Framed(new StopMessage
        {
            Type = StopMessage.Types.Type.Connect,
            Peer = new Peer { Id = ByteString.CopyFrom(relay.Id.ToBytes()) },
        })));
        Assert.DoesNotContain(a.Host.Connections, c => c.IsLimited);

        // Nothing broke: A keeps its reservation, and a real circuit through it works.
        Assert.Single(a.Client.Reservations);
        await Bounded(b.Host.DialAsync(TestHosts.AddressOf(relay.Host), Ct));
        Multiaddr circuit = TestHosts.AddressOf(relay.Host).Encapsulate(RelayAddressing.CircuitSuffix);
        Connection atB = await Bounded(b.Host.DialAsync(circuit.WithPeerId(a.Id), Ct));
        Assert.True(atB.IsLimited);
        await EchoAsync(b.Host, a.Id);
    }

    [Fact(Timeout = 60_000)]
    public async Task TheRelaysCaps_RefuseReservationsAndCircuits_AndCountInTheResourceManager()
    {
        await using Node relay = await StartAsync(new RelayServiceOptions { MaxReservationsPerIp = 1, MaxCircuitsPerPeer = 1 });
        await using Node a = await StartAsync(client: Eager, startClient: true);
        await using Node b = await StartAsync();
        await Bounded(a.Host.DialAsync(TestHosts.AddressOf(relay.Host), Ct));
        await TestHosts.WaitUntilAsync(() => a.Client.Reservations.Count == 1, "A holds a reservation");

        // A second reservation from the same IP (loopback): refused.
        await Bounded(b.Host.DialAsync(TestHosts.AddressOf(relay.Host), Ct));
        HopMessage refused = await AskAsync(b.Host, relay.Id, Framed(new HopMessage { Type = HopMessage.Types.Type.Reserve }));
        Assert.Equal(Status.ReservationRefused, refused.Status);
        Assert.Equal(1, relay.Host.ResourceSnapshot().Refused[LimitKind.RelayReservations]);

        // One circuit per peer: B's second CONNECT to A is over the limit.
        Multiaddr address = a.Client.Reservations[0].CircuitAddresses[0].WithPeerId(a.Id);
        await Bounded(b.Host.DialAsync(address, Ct));
        Assert.Equal(Status.ResourceLimitExceeded, (await AskAsync(b.Host, relay.Id, Framed(ConnectTo(a.Id)))).Status);
        Assert.Equal(1, relay.Host.ResourceSnapshot().Refused[LimitKind.RelayCircuits]);
    }

    [Fact(Timeout = 60_000)]
    public async Task ACircuitToAPeerThatCannotTakeIt_FailsWithConnectionFailed_AndAStopWithoutReservation_IsDenied()
    {
        await using Node relay = await StartAsync(new RelayServiceOptions());
        await using Libp2pHost plain = await TestHosts.StartAsync();   // no relay client: no stop handler
        await using Node b = await StartAsync();
        await Bounded(plain.DialAsync(TestHosts.AddressOf(relay.Host), Ct));
        await Bounded(b.Host.DialAsync(TestHosts.AddressOf(relay.Host), Ct));
        Assert.Equal(Status.Ok, (await AskAsync(plain, relay.Id, Framed(new HopMessage { Type = HopMessage.Types.Type.Reserve }))).Status);
        Assert.Equal(Status.ConnectionFailed, (await AskAsync(b.Host, relay.Id, Framed(ConnectTo(plain.PeerId)))).Status);
        DialFailedException e = await Assert.ThrowsAsync<DialFailedException>(() =>
            b.Host.DialAsync(TestHosts.AddressOf(relay.Host).Encapsulate(RelayAddressing.CircuitSuffix).WithPeerId(plain.PeerId), Ct));
        Assert.Contains("CONNECTION_FAILED", e.Reason, StringComparison.Ordinal);

        // A stop CONNECT from a peer B holds no reservation on: PERMISSION_DENIED.
        P2PStream stop = await Bounded(relay.Host.OpenStreamAsync(b.Id, RelayCodec.StopProtocol, Ct));
        await stop.Output.WriteAsync(Framed(new StopMessage
        {
            Type = StopMessage.Types.Type.Connect,
            Peer = new Peer { Id = ByteString.CopyFrom(plain.PeerId.ToBytes()) },
        }), Ct);
        StopMessage? answer = await RelayCodec.ReadStopAsync(stop.Input, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(Status.PermissionDenied, answer!.Status);
    }
}
