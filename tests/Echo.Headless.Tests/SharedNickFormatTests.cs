using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;

namespace Echo.Headless.Tests;

public sealed class SharedNickFormatTests
{
    private const string Alice = "12D3KooWAlice0000abcdefgh";
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);

    [Fact]
    public void A_shared_nick_carries_the_peers_tag_in_messages_and_peer_events()
    {
        ChatMessage said = new("m1", "lobby", Alice, "alice", "hi", At, MessageOrigin.Room) { SenderTag = "abcdefgh" };
        Assert.Equal(
            """{"type":"message","room":"lobby","from":"12D3KooWAlice0000abcdefgh","nick":"alice","tag":"abcdefgh","text":"hi","ts":"2023-11-14T22:13:20.123Z","id":"m1","origin":"room"}""",
            HeadlessEventWriter.Format(new MessageEvent(said)));

        PeerInfo peer = new(Alice, "/ip4/127.0.0.1/tcp/1", PeerSource.Inbound, At, Nick: "alice") { SharedNick = true };
        Assert.Equal(
            """{"type":"peer","event":"updated","peerId":"12D3KooWAlice0000abcdefgh","address":"/ip4/127.0.0.1/tcp/1","source":"inbound","nick":"alice","tag":"abcdefgh","via":"direct"}""",
            HeadlessEventWriter.Format(new PeerUpdatedEvent(peer)));
        Assert.DoesNotContain("\"tag\"", HeadlessEventWriter.Format(new PeerUpdatedEvent(peer with { SharedNick = false })));
    }
}
