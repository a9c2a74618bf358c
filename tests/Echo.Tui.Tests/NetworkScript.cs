using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Tui.Tests;

/// <summary>What the tests make the fake network say.</summary>
internal static class NetworkScript
{
    public const string BobId = "12D3KooWBobPeer00000000000000000000000000000000Bob1";

    private static long _seqno;

    /// <summary>A message from <paramref name="senderId"/> arrives.</summary>
    public static ChatMessage Say(this FakeChatNetwork network, string senderId, string nick, string room, string text,
        DateTimeOffset at, MessageOrigin origin = MessageOrigin.Room)
    {
        ChatMessage message = new($"{senderId}/{Interlocked.Increment(ref _seqno)}", room, senderId, nick, text, at, origin);
        network.Inject(new MessageArrived(message));
        return message;
    }

    /// <summary>A peer connects.</summary>
    public static PeerInfo ConnectPeer(this FakeChatNetwork network, string peerId, DateTimeOffset at, string address = "/ip4/127.0.0.1/tcp/4002")
    {
        PeerInfo peer = new(peerId, address + "/p2p/" + peerId, PeerSource.Inbound, at);
        network.Inject(new PeerJoined(peer));
        return peer;
    }
}
