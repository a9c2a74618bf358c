using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Core.Tests.Peers;

/// <summary>The peers the chat knows, on their own: connected and away peers, nicks, and what a typed target names.</summary>
public class PeerDirectoryTests
{
    private const string Me = "12D3KooWMe00000000000000000000000000000000000000000";
    private const string Bob = "12D3KooWBob111111111111111111111111111111111111111";
    private const string OtherBob = "12D3KooWBob222222222222222222222222222222222222222";

    private readonly List<ChatEvent> _published = [];
    private readonly PeerDirectory _directory;

    public PeerDirectoryTests() => _directory = new PeerDirectory(() => Me, _published.Add);

    private static PeerInfo Peer(string id, int minute) =>
        new(id, "/ip4/127.0.0.1/tcp/1/p2p/" + id, PeerSource.Inbound, new DateTimeOffset(2026, 1, 1, 12, minute, 0, TimeSpan.Zero));

    private static ChatMessage From(string id, string nick) =>
        new(id + ":1", "lobby", id, nick, "hi", DateTimeOffset.UtcNow, MessageOrigin.Room);

    [Fact]
    public void ANickTwoPeersUse_IsShownApart_AndResolvesOnlyWithItsTag()
    {
        _directory.Connected(Peer(Bob, 1));
        _directory.Connected(Peer(OtherBob, 2));
        Assert.Null(_directory.Show(From(Bob, "bob")).SenderTag);
        Assert.Equal(Bob, _directory.Resolve("bob"));   // one peer has the nick

        ChatMessage second = _directory.Show(From(OtherBob, "bob"));

        Assert.Equal(PeerInfo.IdTag(OtherBob), second.SenderTag);
        Assert.Equal($"bob@{PeerInfo.IdTag(Bob)}", _directory.LabelOf(Bob));
        Assert.Null(_directory.Resolve("bob"));
        Assert.Contains("is the nick of 2 peers", Assert.IsType<ErrorEvent>(_published[^1]).Message);
        Assert.Equal(OtherBob, _directory.Resolve("bob@" + PeerInfo.IdTag(OtherBob)));
        Assert.All(_directory.All, p => Assert.True(p.SharedNick));
    }

    [Fact]
    public void OurOwnMessages_TeachNoNick_AndAnUnknownTargetIsAnError()
    {
        Assert.Null(_directory.Show(From(Me, "me")).SenderTag);
        Assert.Null(_directory.NickOf(Me));
        Assert.Null(_directory.Resolve("carol"));
        Assert.Contains("no peer known as carol", Assert.IsType<ErrorEvent>(Assert.Single(_published)).Message);
        Assert.Equal(Bob, _directory.Resolve(Bob));   // an id is taken as given: the network checks it when it dials
    }

    [Fact]
    public void ARememberedPeer_IsAwayUntilItConnects_AndFoundByTheNickItAnnounced()
    {
        _directory.Reconnecting(new PeerReconnecting(new RememberedPeer(Bob, null, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddSeconds(5), "bob")));

        PeerInfo away = Assert.Single(_directory.All);
        Assert.True(away.IsAway);
        Assert.Equal("bob", away.Nick);
        Assert.Equal(Bob, _directory.ResolveRemembered("bob"));
        Assert.Equal(Bob, _directory.ResolveRemembered(Bob[^8..]));

        _directory.Connected(Peer(Bob, 3));
        Assert.False(Assert.Single(_directory.All).IsAway);
        Assert.True(_directory.IsConnected(Bob));
        _directory.Disconnected(Bob);
        Assert.Empty(_directory.All);
        Assert.IsType<PeerDisconnectedEvent>(_published[^1]);
    }
}
