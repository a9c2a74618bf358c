using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Headless.Tests;

/// <summary>How a peer is reached (<c>via</c>), the relays in use and a transfer waiting for a direct connection, as headless lines.</summary>
public sealed class RelayedPeerFormatTests
{
    private const string Bob = "12D3KooWBob00000abcdefgh";
    private const string Circuit = "/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWRelay000abcdefgh/p2p-circuit/p2p/" + Bob;
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);

    [Fact]
    public void PeerEvents_SayWhetherThePeerIsReachedThroughARelayOrDirectly_AndWhyItStaysRelayed()
    {
        PeerInfo relayed = new(Bob, Circuit, PeerSource.Manual, At, Nick: "bob") { Relayed = true };
        Assert.Equal(
            $$"""{"type":"peer","event":"connected","peerId":"{{Bob}}","address":"{{Circuit}}","source":"manual","nick":"bob","via":"relay"}""",
            HeadlessEventWriter.Format(new PeerConnectedEvent(relayed)));

        PeerInfo stuck = relayed with { RelayReason = "hole punch failed after 3 attempts, symmetric NAT suspected" };
        Assert.Equal(
            $$"""{"type":"peer","event":"updated","peerId":"{{Bob}}","address":"{{Circuit}}","source":"manual","nick":"bob","via":"relay","relayReason":"hole punch failed after 3 attempts, symmetric NAT suspected"}""",
            HeadlessEventWriter.Format(new PeerUpdatedEvent(stuck)));

        // Upgraded: a direct connection replaced the relayed one; the reason is gone with it.
        PeerInfo direct = stuck with { Relayed = false, RelayReason = null, Address = "/ip4/198.51.100.2/tcp/4001/p2p/" + Bob };
        Assert.Equal(
            $$"""{"type":"peer","event":"updated","peerId":"{{Bob}}","address":"/ip4/198.51.100.2/tcp/4001/p2p/{{Bob}}","source":"manual","nick":"bob","via":"direct"}""",
            HeadlessEventWriter.Format(new PeerUpdatedEvent(direct)));

        // A remembered peer that is away has no connection, so no via.
        string? away = HeadlessEventWriter.Format(new PeerUpdatedEvent(relayed with { ReconnectAt = At }));
        Assert.NotNull(away);
        Assert.DoesNotContain("\"via\"", away, StringComparison.Ordinal);
    }

    [Fact]
    public void TheRelaysInUse_AndAFileWaitingForADirectConnection_AreLinesOfTheirOwn()
    {
        const string relay = "/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWRelay000abcdefgh";
        Assert.Equal("""{"type":"relays","relays":["/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWRelay000abcdefgh"],"reservations":[]}""",
            HeadlessEventWriter.Format(new RelaysEvent([relay])));
        Assert.Equal("""{"type":"relays","relays":[],"reservations":[]}""", HeadlessEventWriter.Format(new RelaysEvent([])));
        RelaysEvent granted = new([relay])
        {
            Reservations = [new RelayReservationInfo(relay, TimeSpan.FromSeconds(120), 131_072, new DateTimeOffset(2026, 12, 7, 1, 8, 39, TimeSpan.Zero))],
        };
        Assert.Equal("""{"type":"relays","relays":["/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWRelay000abcdefgh"],"reservations":[{"relay":"/ip4/203.0.113.7/tcp/4001/p2p/12D3KooWRelay000abcdefgh","status":"OK","limitSeconds":120,"limitBytes":131072,"expires":"2026-12-07T01:08:39.000Z"}]}""",
            HeadlessEventWriter.Format(granted));

        FileWaitingEvent waiting = new("1234567890", "notes.txt", Bob, "notes.txt: " + FileWaitingEvent.Waiting("bob"));
        Assert.Equal(
            $$"""{"type":"file-waiting","id":"1234567890","name":"notes.txt","peerId":"{{Bob}}","message":"notes.txt: waiting for a direct connection to bob; relayed links carry text only"}""",
            HeadlessEventWriter.Format(waiting));
    }
}
