using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Ports;
using Echo.Net.Identity;
using Echo.Net.Records;
using Echo.Protocols.Profile;
using Google.Protobuf;

namespace Echo.Protocols.Tests.Profile;

/// <summary>The away message in the signed profile record: optional, bounded, and readable by records without it.</summary>
public sealed class AwayRecordTests
{
    private static readonly KeyPair Alice = KeyPair.Generate();

    [Fact]
    public void AnAwayMessage_RoundTrips_WithTheNick()
    {
        ProfileRecord record = ProfileRecord.Open(ProfileRecord.Seal(Alice, 3, "alice", "lunch"), Alice.PeerId);

        Assert.Equal(("alice", "lunch"), (record.Nick, record.Away));
    }

    [Fact]
    public void ARecordWithoutTheField_AsOlderEchoWritesIt_IsNotAway()
    {
        // Older Echo signs a Profile with fields 1-3 only.
        byte[] payload = new Echo.Protocols.Profile.Profile { PeerId = ByteString.CopyFrom(Alice.PeerId.Bytes), Seq = 1, Nick = "alice" }.ToByteArray();
        ProfileRecord record = ProfileRecord.Open(SignedRecord.Seal(Alice, ProfileRecord.Domain, ProfileRecord.PayloadType, payload), Alice.PeerId);

        Assert.Equal(("alice", (string?)null), (record.Nick, record.Away));
    }

    [Theory]
    [InlineData(AwayMessage.MaxLength + 1)]
    [InlineData(-1)]    // a control character
    public void AnAwayMessageOutOfLimits_IsDropped_AndTheNickStillCounts(int length)
    {
        string away = length < 0 ? "out\u001b[2Jnow" : new string('z', length);

        ProfileRecord record = ProfileRecord.Open(ProfileRecord.Seal(Alice, 3, "alice", away), Alice.PeerId);

        Assert.Equal(("alice", (string?)null), (record.Nick, record.Away));
    }
}

/// <summary>/away and /whois between two real nodes.</summary>
public sealed class AwayNetworkTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task Away_IsShownOnTheOtherSide_InWhois_AndBackClearsIt()
    {
        await using ChatNode alice = await ChatNode.StartAsync("alice");
        await using ChatNode bob = await ChatNode.StartAsync("bob");
        alice.Chat.SetAway("gone fishing");   // before connecting: the record sent on connect carries it
        await bob.Chat.ConnectAsync(alice.Address, Ct);

        PeerUpdatedEvent away = await bob.EventAsync<PeerUpdatedEvent>(u => u.Peer.AwayReason is not null);
        Assert.Equal((alice.Id.ToString(), "gone fishing"), (away.Peer.PeerId, away.Peer.AwayReason));
        await bob.EventAsync<NoticeEvent>(n => n.Text == "alice is away: gone fishing");

        await bob.Chat.SubmitAsync("/whois alice", Ct);
        WhoisEvent whois = await bob.EventAsync<WhoisEvent>();
        Assert.Equal((alice.Id.ToString(), "alice", "gone fishing"), (whois.PeerId, whois.Nick, whois.AwayReason));
        PeerConnectionDetails connection = Assert.Single(whois.Connections);
        Assert.False(connection.Inbound);             // bob dialed
        Assert.False(connection.Relayed);
        Assert.StartsWith("/ip4/127.0.0.1/tcp/", connection.Address, StringComparison.Ordinal);
        Assert.Contains(alice.Address, whois.Addresses);   // what alice's identify reported
        Assert.NotNull(whois.FirstSeen);
        Assert.Contains("connected outbound (we dialed it), direct", whois.Text, StringComparison.Ordinal);

        // bob's nick reaches alice in his profile, which may come after alice's to bob.
        await alice.EventAsync<PeerUpdatedEvent>(u => u.Peer.Nick == "bob");
        await alice.Chat.SubmitAsync("/whois bob", Ct);
        Assert.True(Assert.Single((await alice.EventAsync<WhoisEvent>()).Connections).Inbound);

        alice.Chat.SetAway(null);
        await bob.EventAsync<NoticeEvent>(n => n.Text == "alice is back");
        Assert.Null(Assert.Single(bob.Chat.Peers).AwayReason);
    }
}
