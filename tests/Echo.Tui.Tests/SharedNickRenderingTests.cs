using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Tui.Rendering;

namespace Echo.Tui.Tests;

public sealed class SharedNickRenderingTests
{
    private const string Me = "12D3KooWMe";
    private const string Alice = "12D3KooWAlice0000abcdefgh";
    private static readonly DateTimeOffset Noon = new(2026, 3, 4, 12, 0, 1, TimeSpan.Zero);

    [Fact]
    public void A_nick_another_peer_shares_is_shown_with_the_tag_in_scrollback_and_the_peer_panel()
    {
        ChatMessage said = new("m1", "lobby", Alice, "alice", "hi", Noon, MessageOrigin.Room);

        Assert.Equal("14:00:01 <alice> hi", LineFormatter.Message(said, Me, TuiHarness.Zone).PlainText);
        Assert.Equal("14:00:01 <alice@abcdefgh> hi",
            LineFormatter.Message(said with { SenderTag = "abcdefgh" }, Me, TuiHarness.Zone).PlainText);

        PeerInfo peer = new(Alice, "/ip4/127.0.0.1/tcp/1", PeerSource.Manual, Noon, Nick: "alice");
        Assert.Equal("alice", LineFormatter.Peer(peer).Name.PlainText);
        Assert.Equal("alice@abcdefgh", LineFormatter.Peer(peer with { SharedNick = true }).Name.PlainText);
    }
}
