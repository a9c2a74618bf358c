using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Headless.Tests;

/// <summary>Headless lines for /me actions, away messages, /whois answers and /clear.</summary>
public sealed class IrcFormatTests
{
    private const string Alice = "12D3KooWAlice0000abcdefgh";
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);

    [Fact]
    public void AnAction_IsAMessageWithTheActionFlag_AndAPlainOneHasNone()
    {
        ChatMessage waved = new("m1", "lobby", Alice, "alice", "waves", At, MessageOrigin.Room) { Action = true };

        Assert.Equal(
            """{"type":"message","room":"lobby","from":"12D3KooWAlice0000abcdefgh","nick":"alice","text":"waves","ts":"2023-11-14T22:13:20.123Z","id":"m1","origin":"room","action":true}""",
            HeadlessEventWriter.Format(new MessageEvent(waved)));
        Assert.DoesNotContain("\"action\"", HeadlessEventWriter.Format(new MessageEvent(waved with { Action = false })), StringComparison.Ordinal);
    }

    [Fact]
    public void AnAwayPeer_CarriesItsAwayMessage()
    {
        PeerInfo peer = new(Alice, "/ip4/127.0.0.1/tcp/1", PeerSource.Inbound, At, Nick: "alice") { AwayReason = "lunch \"now\"" };

        Assert.Equal(
            """{"type":"peer","event":"updated","peerId":"12D3KooWAlice0000abcdefgh","address":"/ip4/127.0.0.1/tcp/1","source":"inbound","nick":"alice","awayMessage":"lunch \"now\"","via":"direct"}""",
            HeadlessEventWriter.Format(new PeerUpdatedEvent(peer)));
    }

    [Fact]
    public void AWhoisAnswer_IsOneStructuredLine()
    {
        WhoisEvent whois = new(Alice, "alice", "lunch",
            [new PeerConnectionDetails("/ip4/127.0.0.1/tcp/1/p2p/" + Alice, Inbound: true, Relayed: false, At)],
            ["/ip4/127.0.0.1/tcp/1/p2p/" + Alice], TimeSpan.FromMilliseconds(0.5), At, FirstSeenThisRun: true, "alice is " + Alice);

        Assert.Equal(
            """{"type":"whois","peerId":"12D3KooWAlice0000abcdefgh","nick":"alice","awayMessage":"lunch","connections":[{"address":"/ip4/127.0.0.1/tcp/1/p2p/12D3KooWAlice0000abcdefgh","direction":"inbound","relayed":false,"since":"2023-11-14T22:13:20.123Z"}],"addrs":["/ip4/127.0.0.1/tcp/1/p2p/12D3KooWAlice0000abcdefgh"],"rttMs":0.5,"firstSeen":"2023-11-14T22:13:20.123Z","firstSeenThisRun":true,"text":"alice is 12D3KooWAlice0000abcdefgh"}""",
            HeadlessEventWriter.Format(whois));
    }

    [Fact]
    public void Clear_NamesTheRoom()
    {
        Assert.Equal("""{"type":"clear","room":"lobby"}""", HeadlessEventWriter.Format(new ClearEvent("lobby")));
        Assert.Equal("""{"type":"clear"}""", HeadlessEventWriter.Format(new ClearEvent(null)));
    }
}
