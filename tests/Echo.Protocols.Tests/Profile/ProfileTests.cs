using System.Diagnostics;
using Echo.Core.Ports;
using Echo.Net;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Records;
using Echo.Protocols.Profile;

namespace Echo.Protocols.Tests.Profile;

public sealed class ProfileRecordTests
{
    private static readonly KeyPair Alice = KeyPair.Generate();
    private static readonly KeyPair Mallory = KeyPair.Generate();

    [Fact]
    public void Open_ARecordOfTheSender_GivesItsNickAndSeq()
    {
        ProfileRecord record = ProfileRecord.Open(ProfileRecord.Seal(Alice, 42, "alice"), Alice.PeerId);
        Assert.Equal((Alice.PeerId, 42UL, "alice"), (record.Peer, record.Seq, record.Nick));
    }

    [Fact]
    public void Open_ARecordSignedByAnotherKey_IsRejected()
    {
        ProtocolViolationException e = Assert.Throws<ProtocolViolationException>(() =>
            ProfileRecord.Open(ProfileRecord.Seal(Mallory, 1, "alice"), Alice.PeerId));
        Assert.Contains("another key", e.Message);
    }

    [Fact]
    public void Open_ARecordNamingAnotherPeer_IsRejected()
    {
        // Signed by the sender's own key, but claiming to be alice's profile.
        byte[] forged = SignedRecord.Seal(Mallory, ProfileRecord.Domain, ProfileRecord.PayloadType,
            ProfileRecord.Payload(Alice.PeerId, 1, "alice"));
        Assert.Contains("another peer", Assert.Throws<ProtocolViolationException>(() => ProfileRecord.Open(forged, Mallory.PeerId)).Message);
    }

    [Fact]
    public void Open_ATamperedRecord_FailsItsSignature()
    {
        byte[] sealedRecord = ProfileRecord.Seal(Alice, 1, "alice");
        int at = sealedRecord.AsSpan().IndexOf("alice"u8);
        sealedRecord[at] = (byte)'b';   // "blice": same length, the signature no longer holds
        Assert.Contains("bad signature", Assert.Throws<ProtocolViolationException>(() => ProfileRecord.Open(sealedRecord, Alice.PeerId)).Message);
    }

    [Fact]
    public void Open_ASignatureMadeForAnotherDomain_IsRejected()
    {
        byte[] other = SignedRecord.Seal(Alice, "echo-other", ProfileRecord.PayloadType, ProfileRecord.Payload(Alice.PeerId, 1, "alice"));
        Assert.Contains("bad signature", Assert.Throws<ProtocolViolationException>(() => ProfileRecord.Open(other, Alice.PeerId)).Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("two words")]
    [InlineData("pipe|nick")]
    [InlineData("bidi\u202Enick")]
    [InlineData("a-nick-that-is-longer-than-32-chars")]
    public void Open_ABadNick_IsRejected(string nick)
    {
        ProtocolViolationException e = Assert.Throws<ProtocolViolationException>(() =>
            ProfileRecord.Open(ProfileRecord.Seal(Alice, 1, nick), Alice.PeerId));
        Assert.Contains("bad nick", e.Message);
    }

    [Fact]
    public void Open_AnOversizedRecord_IsRejectedBeforeItIsParsed()
    {
        byte[] big = SignedRecord.Seal(Alice, ProfileRecord.Domain, ProfileRecord.PayloadType, new byte[ProfileRecord.MaxBytes]);
        Assert.Throws<OversizedMessageException>(() => ProfileRecord.Open(big, Alice.PeerId));
    }

    [Fact]
    public void Open_Garbage_IsAProtocolViolation() =>
        Assert.Throws<ProtocolViolationException>(() => ProfileRecord.Open([0x0a, 0xff, 0x01], Alice.PeerId));

    [Fact]
    public async Task Accept_AnOlderOrEqualSeq_NeverReplacesANewerOne_UntilThePeerLeaves()
    {
        await using Libp2pHost host = TestNetworks.NewHost();
        ProfileProtocol profiles = new(host, TimeProvider.System, _ => { }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        Assert.True(profiles.Accept(new ProfileRecord(Alice.PeerId, 5, "alice")));
        Assert.False(profiles.Accept(new ProfileRecord(Alice.PeerId, 4, "old-alice")));
        Assert.False(profiles.Accept(new ProfileRecord(Alice.PeerId, 5, "replayed")));
        Assert.True(profiles.Accept(new ProfileRecord(Alice.PeerId, 6, "alice2")));
        Assert.True(profiles.Accept(new ProfileRecord(Mallory.PeerId, 1, "mallory")));

        profiles.OnDisconnected(Alice.PeerId);   // a restarted peer's clock may have gone back
        Assert.True(profiles.Accept(new ProfileRecord(Alice.PeerId, 3, "alice")));
    }

    [Fact]
    public async Task WithinRate_APeerPushingTooOften_IsCutOffUntilTheNextMinute()
    {
        await using Libp2pHost host = TestNetworks.NewHost();
        ManualTime time = new();
        ProfileProtocol profiles = new(host, time, _ => { }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        for (int i = 0; i < ProfileProtocol.MaxRecordsPerMinute; i++)
            Assert.True(profiles.WithinRate(Alice.PeerId));
        Assert.False(profiles.WithinRate(Alice.PeerId));
        Assert.True(profiles.WithinRate(Mallory.PeerId));

        time.Now += TimeSpan.FromMinutes(1);
        Assert.True(profiles.WithinRate(Alice.PeerId));
    }

    private sealed class ManualTime : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public async Task SetNick_SealsANewerRecordForEveryChange()
    {
        await using Libp2pHost host = TestNetworks.NewHost();
        ProfileProtocol profiles = new(host, TimeProvider.System, _ => { }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        Assert.True(profiles.SetNick("bob"));
        ProfileRecord first = ProfileRecord.Open(profiles.Own!, host.PeerId);
        Assert.False(profiles.SetNick("bob"));
        Assert.True(profiles.SetNick("bobby"));
        ProfileRecord second = ProfileRecord.Open(profiles.Own!, host.PeerId);

        Assert.Equal(("bob", "bobby"), (first.Nick, second.Nick));
        Assert.True(second.Seq > first.Seq);
    }
}

/// <summary>Two real adapters over loopback exchanging their profiles.</summary>
public sealed class ProfileNetworkTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task Connect_EachSideKnowsTheOthersNickWithinASecond_AndAChangeIsPushed()
    {
        await using Libp2pChatNetwork alice = new(TestNetworks.NewHost(), TestNetworks.Options,
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        await using Libp2pChatNetwork bob = new(TestNetworks.NewHost(), TestNetworks.Options,
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        alice.AnnounceNick("alice");
        bob.AnnounceNick("bob");
        await alice.StartAsync(Ct);
        await bob.StartAsync(Ct);

        await bob.ConnectAsync(alice.ListenAddresses[0], Ct);
        Stopwatch connected = Stopwatch.StartNew();
        PeerNickAnnounced atBob = await bob.Events.NextAsync<PeerNickAnnounced>();
        PeerNickAnnounced atAlice = await alice.Events.NextAsync<PeerNickAnnounced>();
        TimeSpan took = connected.Elapsed;

        Assert.Equal((alice.LocalPeerId, "alice"), (atBob.PeerId, atBob.Nick));
        Assert.Equal((bob.LocalPeerId, "bob"), (atAlice.PeerId, atAlice.Nick));
        Assert.True(took < TimeSpan.FromSeconds(1), $"nicks known {took.TotalMilliseconds:0} ms after connecting");

        bob.AnnounceNick("bobby");
        PeerNickAnnounced changed = await alice.Events.NextAsync<PeerNickAnnounced>();
        Assert.Equal((bob.LocalPeerId, "bobby"), (changed.PeerId, changed.Nick));
    }

    [Fact(Timeout = 30_000)]
    public async Task AForgedProfile_IsNotReported_AndTheSendersOwnStillIs()
    {
        await using Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork mallory = await TestNetworks.StartAsync();
        await mallory.ConnectAsync(alice.ListenAddresses[0], Ct);
        using KeyPair victim = KeyPair.Generate();

        // mallory sends a record signed by another key (with a huge seq), then one of its own.
        await SendRawAsync(mallory.Host, alice.Id(), ProfileRecord.Seal(victim, ulong.MaxValue, "victim"));
        await SendRawAsync(mallory.Host, alice.Id(), mallory.Host.SealRecord(ProfileRecord.Domain, ProfileRecord.PayloadType,
            ProfileRecord.Payload(mallory.Id(), 7, "mallory")));

        PeerNickAnnounced announced = await alice.Events.NextAsync<PeerNickAnnounced>();
        Assert.Equal((mallory.LocalPeerId, "mallory"), (announced.PeerId, announced.Nick));
    }

    private static async Task SendRawAsync(Libp2pHost from, PeerId to, byte[] record)
    {
        P2PStream stream = await from.OpenStreamAsync(to, ProfileProtocol.ProtocolId, Ct);
        await stream.Output.WriteLengthPrefixedAsync(record, Ct);
        await stream.CompleteOutputAsync();
        try
        {
            // The receiver closes (or resets) once it has judged the record.
            await stream.Input.ReadLengthPrefixedAsync(0, ProfileProtocol.ProtocolId, Ct);
        }
        catch (Exception e) when (e is IOException or ProtocolViolationException)
        {
        }
    }
}
