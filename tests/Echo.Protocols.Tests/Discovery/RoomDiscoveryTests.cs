using System.Security.Cryptography;
using System.Text;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols.Discovery;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Protocols.Tests.Discovery;

public sealed class DiscoveryKeysTests
{
    [Fact]
    public void Room_IsTheSha256MultihashOfTheVersionedName()
    {
        byte[] key = DiscoveryKeys.Room("natroom");

        // sha256("echo-chat/room/v1/natroom"), computed independently with sha256sum.
        Assert.Equal("1220807b47409a0e18a0cbc44eaebc6108a4a8a03decd5ec8d7fd8f0dd9cbb704b80", Convert.ToHexStringLower(key));
        Assert.Equal([0x12, 0x20, .. SHA256.HashData(Encoding.UTF8.GetBytes("echo-chat/room/v1/natroom"))], key);
    }

    [Fact]
    public void Peer_IsTheSha256MultihashOfThePeerIdText()
    {
        PeerId peer = PeerId.Parse("12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8");

        Assert.Equal("12202fbac94ddda70e1b24072e5e428b89dab85d03c4baa4bfb2311aadc806ee87cc", Convert.ToHexStringLower(DiscoveryKeys.Peer(peer)));
    }

    [Fact]
    public void Keys_DifferByRoomAndKind()
    {
        Assert.NotEqual(DiscoveryKeys.Room("a"), DiscoveryKeys.Room("A"));
        Assert.NotEqual(DiscoveryKeys.Room("a"), DiscoveryKeys.Room("b"));
        Assert.Equal(34, DiscoveryKeys.Room(new string('x', 64)).Length);
    }
}

/// <summary>The schedule of <see cref="RoomDiscovery"/> on a fake clock, with a fake DHT and a fake node.</summary>
public sealed partial class RoomDiscoveryTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
    private static readonly PeerId Self = KeyPair.Generate().PeerId;

    private sealed class FakeHost : IDiscoveryHost
    {
        private readonly Lock _gate = new();
        private readonly HashSet<PeerId> _connected = [];
        private int _dialing;

        public List<PeerId> Dialed { get; } = [];

        public int RoomPeerCount { get; set; }

        public int StatusChanges { get; private set; }

        public int MaxConcurrentDials { get; private set; }

        /// <summary>When set, dials wait for it.</summary>
        public TaskCompletionSource? Gate { get; set; }

        public void Connect(PeerId peer)
        {
            lock (_gate)
                _connected.Add(peer);
        }

        public bool IsConnected(PeerId peer)
        {
            lock (_gate)
                return _connected.Contains(peer);
        }

        public int RoomPeers(string room) => RoomPeerCount;

        public async Task DialAsync(ProviderRecord provider, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                Dialed.Add(provider.Peer);
                MaxConcurrentDials = Math.Max(MaxConcurrentDials, ++_dialing);
            }
            try
            {
                if (Gate is { } gate)
                    await gate.Task.WaitAsync(cancellationToken);
                Connect(provider.Peer);
            }
            finally
            {
                lock (_gate)
                    _dialing--;
            }
        }

        public void StatusChanged()
        {
            lock (_gate)
                StatusChanges++;
        }
    }

    private static readonly Multiaddr Somewhere = Multiaddr.Parse("/ip4/127.0.0.1/tcp/4001");

    private static (RoomDiscovery Discovery, FakeProviderRouting Routing, FakeHost Host, ProviderSpace Space) New(FakeTimeProvider time,
        RoomDiscoveryOptions? options = null)
    {
        ProviderSpace space = new();
        FakeProviderRouting routing = new(space, Self, () => [Somewhere], time);
        FakeHost host = new();
        return (new RoomDiscovery(routing, Self, host, options ?? new RoomDiscoveryOptions(), time, NullLogger.Instance), routing, host, space);
    }

    private static Task WaitingUntilAsync(RoomDiscovery discovery, string? room, DateTimeOffset due) =>
        TestHosts.WaitUntilAsync(() => discovery.NextWake(room) == due, $"{room ?? "presence"} waits until {due:HH:mm:ss}", TestNetworks.Wait);

    [Fact(Timeout = 30_000)]
    public async Task Join_ProvidesAndLooksUp_ThenLooksUpSoonAndLessOftenUntilEnoughPeers_ThenRarely_AndRepublishesAfterThreeHours()
    {
        FakeTimeProvider time = new(Start);
        (RoomDiscovery discovery, FakeProviderRouting routing, FakeHost host, _) = New(time);
        await using RoomDiscovery owned = discovery;
        byte[] key = DiscoveryKeys.Room("lobby");

        discovery.Join("lobby");
        await WaitingUntilAsync(discovery, "lobby", Start + TimeSpan.FromSeconds(5));
        Assert.Equal((1, 1), (routing.Provides(key), routing.Lookups(key)));

        // Alone in the room: after 5 s, then 10, 20, 40 s, then every minute.
        DateTimeOffset at = Start + TimeSpan.FromSeconds(5);
        int lookups = 1;
        foreach (int seconds in (int[])[10, 20, 40, 60, 60])
        {
            time.Advance(at - time.GetUtcNow());
            at += TimeSpan.FromSeconds(seconds);
            await WaitingUntilAsync(discovery, "lobby", at);
            Assert.Equal((1, ++lookups), (routing.Provides(key), routing.Lookups(key)));
        }

        // Enough peers in the topic (D_low): the next lookup comes 15 minutes later.
        host.RoomPeerCount = 4;
        time.Advance(at - time.GetUtcNow());
        await WaitingUntilAsync(discovery, "lobby", at + TimeSpan.FromMinutes(15));
        Assert.Equal(++lookups, routing.Lookups(key));
        time.Advance(TimeSpan.FromMinutes(14));
        Assert.Equal(lookups, routing.Lookups(key));
        time.Advance(TimeSpan.FromMinutes(1));
        await WaitingUntilAsync(discovery, "lobby", at + TimeSpan.FromMinutes(30));
        Assert.Equal((1, ++lookups), (routing.Provides(key), routing.Lookups(key)));

        // Three hours after the first provide, it is provided again.
        time.Advance(Start + TimeSpan.FromHours(3) - time.GetUtcNow());
        await TestHosts.WaitUntilAsync(() => routing.Provides(key) == 2, "the room is provided again", TestNetworks.Wait);
        await WaitingUntilAsync(discovery, "lobby", Start + TimeSpan.FromHours(3) + TimeSpan.FromMinutes(15));
        Assert.Equal(2, routing.Provides(key));
    }

    [Fact(Timeout = 30_000)]
    public async Task TwoMembersJoiningAtOnce_MissEachOtherFirst_AndFindEachOtherFiveSecondsLater()
    {
        FakeTimeProvider time = new(Start);
        (RoomDiscovery alice, FakeProviderRouting aliceRouting, FakeHost aliceHost, ProviderSpace space) = New(time);
        await using RoomDiscovery ownedAlice = alice;
        PeerId bobId = KeyPair.Generate().PeerId;
        FakeHost bobHost = new();
        await using RoomDiscovery bob = new(new FakeProviderRouting(space, bobId, () => [Somewhere], time), bobId, bobHost,
            new RoomDiscoveryOptions(), time, NullLogger.Instance);
        byte[] key = DiscoveryKeys.Room("lobby");

        // Alice looks up before bob has provided: she finds nobody.
        alice.Join("lobby");
        await WaitingUntilAsync(alice, "lobby", Start + TimeSpan.FromSeconds(5));
        Assert.Empty(aliceHost.Dialed);
        bob.Join("lobby");
        await WaitingUntilAsync(bob, "lobby", Start + TimeSpan.FromMinutes(15));
        Assert.Equal([Self], bobHost.Dialed);

        // Her next lookup, 5 s later (not a minute), finds bob.
        time.Advance(TimeSpan.FromSeconds(5));
        await TestHosts.WaitUntilAsync(() => aliceRouting.Lookups(key) == 2, "alice's second lookup", TestNetworks.Wait);
        await TestHosts.WaitUntilAsync(() => aliceHost.Dialed.Contains(bobId), "alice dials bob", TestNetworks.Wait);
        Assert.Equal(["lobby"], alice.RoomsFound);
    }

    [Fact(Timeout = 30_000)]
    public async Task Presence_IsProvidedAtStart_AndEveryThreeHours_NeverLookedUp()
    {
        FakeTimeProvider time = new(Start);
        (RoomDiscovery discovery, FakeProviderRouting routing, _, _) = New(time);
        await using RoomDiscovery owned = discovery;
        byte[] key = DiscoveryKeys.Peer(Self);

        discovery.Start();
        await WaitingUntilAsync(discovery, null, Start + TimeSpan.FromHours(3));
        Assert.Equal((1, 0), (routing.Provides(key), routing.Lookups(key)));

        time.Advance(TimeSpan.FromHours(3));
        await WaitingUntilAsync(discovery, null, Start + TimeSpan.FromHours(6));
        Assert.Equal((2, 0), (routing.Provides(key), routing.Lookups(key)));
    }

    [Fact(Timeout = 30_000)]
    public async Task AddressesChanged_ProvidesEverythingAgainSoon_AndLooksTheRoomsUpAgainRightAfter()
    {
        FakeTimeProvider time = new(Start);
        (RoomDiscovery discovery, FakeProviderRouting routing, FakeHost host, _) = New(time);
        await using RoomDiscovery owned = discovery;
        host.RoomPeerCount = 10;
        discovery.Start();
        discovery.Join("lobby");
        await WaitingUntilAsync(discovery, "lobby", Start + TimeSpan.FromMinutes(15));
        await WaitingUntilAsync(discovery, null, Start + TimeSpan.FromHours(3));
        time.Advance(TimeSpan.FromMinutes(2));

        discovery.AddressesChanged();
        discovery.AddressesChanged();   // a burst gives one provide
        DateTimeOffset due = Start + TimeSpan.FromMinutes(2) + new RoomDiscoveryOptions().AddressChangeDelay;
        await WaitingUntilAsync(discovery, "lobby", due);
        await WaitingUntilAsync(discovery, null, due);
        time.Advance(new RoomDiscoveryOptions().AddressChangeDelay);

        // The room is looked up again right after its provide (members that could not reach us may now).
        await WaitingUntilAsync(discovery, "lobby", due + TimeSpan.FromMinutes(15));
        await WaitingUntilAsync(discovery, null, due + TimeSpan.FromHours(3));
        Assert.Equal(2, routing.Provides(DiscoveryKeys.Room("lobby")));
        Assert.Equal(2, routing.Provides(DiscoveryKeys.Peer(Self)));
        Assert.Equal(2, routing.Lookups(DiscoveryKeys.Room("lobby")));
        Assert.Equal(0, routing.Lookups(DiscoveryKeys.Peer(Self)));
    }

    [Fact(Timeout = 30_000)]
    public async Task AProvideThatReachedNobody_IsRetriedAfterTwoSeconds_ThenLessOften_UpToAMinute()
    {
        FakeTimeProvider time = new(Start);
        (RoomDiscovery discovery, FakeProviderRouting routing, _, _) = New(time);
        await using RoomDiscovery owned = discovery;
        byte[] key = DiscoveryKeys.Peer(Self);
        routing.Reached = 0;

        // The routing table is empty for the first moments: 2 s, 4, 8, 16, 32 s, then every minute.
        discovery.Start();
        DateTimeOffset at = Start;
        int provides = 0;
        foreach (int seconds in (int[])[2, 4, 8, 16, 32, 60, 60])
        {
            time.Advance(at - time.GetUtcNow());
            at += TimeSpan.FromSeconds(seconds);
            await WaitingUntilAsync(discovery, null, at);
            Assert.Equal(++provides, routing.Provides(key));
        }

        // Once a provide reaches peers, the next is three hours later.
        routing.Reached = 3;
        time.Advance(at - time.GetUtcNow());
        await WaitingUntilAsync(discovery, null, at + TimeSpan.FromHours(3));
        Assert.Equal(provides + 1, routing.Provides(key));
    }

    [Fact(Timeout = 30_000)]
    public async Task Leave_StopsProvidingAndLookingUp()
    {
        FakeTimeProvider time = new(Start);
        (RoomDiscovery discovery, FakeProviderRouting routing, _, _) = New(time);
        await using RoomDiscovery owned = discovery;
        byte[] key = DiscoveryKeys.Room("lobby");
        discovery.Join("lobby");
        await WaitingUntilAsync(discovery, "lobby", Start + TimeSpan.FromSeconds(5));

        discovery.Leave("lobby");
        Assert.False(discovery.IsActive("lobby"));
        Assert.Null(discovery.NextWake("lobby"));
        for (int i = 0; i < 5; i++)
            time.Advance(TimeSpan.FromHours(1));
        discovery.AddressesChanged();
        time.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal((1, 1), (routing.Provides(key), routing.Lookups(key)));

        // Joined again, it starts over.
        discovery.Join("lobby");
        await TestHosts.WaitUntilAsync(() => routing.Lookups(key) == 2, "a lookup after joining again", TestNetworks.Wait);
        Assert.Equal(2, routing.Provides(key));
    }

    [Fact(Timeout = 30_000)]
    public async Task Lookup_DialsProvidersExceptUsAndThoseConnected_AndTheRoomCountsAsFound()
    {
        FakeTimeProvider time = new(Start);
        (RoomDiscovery discovery, FakeProviderRouting routing, FakeHost host, ProviderSpace space) = New(time);
        await using RoomDiscovery owned = discovery;
        byte[] key = DiscoveryKeys.Room("lobby");
        PeerId connected = KeyPair.Generate().PeerId, fresh = KeyPair.Generate().PeerId;
        host.Connect(connected);
        space.Add(key, connected, () => [Somewhere]);
        space.Add(key, fresh, () => [Somewhere]);
        Assert.Empty(discovery.RoomsFound);

        discovery.Join("lobby");

        // Every provider is connected after the dial: enough, though the topic has fewer than D_low.
        await WaitingUntilAsync(discovery, "lobby", Start + TimeSpan.FromMinutes(15));
        Assert.Equal([fresh], host.Dialed);
        Assert.Equal(["lobby"], discovery.RoomsFound);
        Assert.True(host.StatusChanges > 0);
        Assert.Equal(1, routing.Lookups(key));
    }

    [Fact(Timeout = 30_000)]
    public async Task Lookup_DialsAtMostTheConfiguredNumberAtOnce_AndThenTheRest()
    {
        FakeTimeProvider time = new(Start);
        (RoomDiscovery discovery, _, FakeHost host, ProviderSpace space) = New(time, new RoomDiscoveryOptions { MaxConcurrentDials = 2 });
        await using RoomDiscovery owned = discovery;
        byte[] key = DiscoveryKeys.Room("lobby");
        for (int i = 0; i < 6; i++)
            space.Add(key, KeyPair.Generate().PeerId, () => [Somewhere]);
        TaskCompletionSource gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Gate = gate;

        discovery.Join("lobby");
        await TestHosts.WaitUntilAsync(() => host.Dialed.Count == 2, "two dials started", TestNetworks.Wait);
        Assert.Equal(2, host.MaxConcurrentDials);
        gate.SetResult();

        await WaitingUntilAsync(discovery, "lobby", Start + TimeSpan.FromMinutes(15));
        Assert.Equal(6, host.Dialed.Count);
        Assert.Equal(2, host.MaxConcurrentDials);
    }

    [Fact(Timeout = 30_000)]
    public async Task FindPeer_ReturnsTheAddressesOfThatPeersPresenceRecordOnly()
    {
        FakeTimeProvider time = new(Start);
        (RoomDiscovery discovery, _, _, ProviderSpace space) = New(time);
        await using RoomDiscovery owned = discovery;
        PeerId bob = KeyPair.Generate().PeerId, mallory = KeyPair.Generate().PeerId;
        Multiaddr bobs = Multiaddr.Parse("/ip4/127.0.0.1/tcp/4002");
        space.Add(DiscoveryKeys.Peer(bob), mallory, () => [Somewhere]);
        space.Add(DiscoveryKeys.Peer(bob), bob, () => [bobs]);

        Assert.Equal([bobs], await discovery.FindPeerAsync(bob, TestContext.Current.CancellationToken));
        Assert.Empty(await discovery.FindPeerAsync(KeyPair.Generate().PeerId, TestContext.Current.CancellationToken));
    }
}
