using System.Text;
using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Net.Host;
using Echo.Net.Multiformats;
using Echo.Net.Pubsub;
using Echo.Protocols.Rooms;
using Echo.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Protocols.Tests.Rooms;

/// <summary>/me actions on the wire: a readable <c>* nick action</c> text with Echo's <c>Action</c> flag.</summary>
public sealed class ActionCodecTests
{
    private const string Alice = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp";

    private static RoomMessage Decode(string json) => RoomMessageCodec.Decode(Encoding.UTF8.GetBytes(json));

    /// <summary>What a reader that knows only go's three fields (go's chat example, Echo before actions) shows.</summary>
    private static string OlderReaderText(byte[] data)
    {
        using JsonDocument document = JsonDocument.Parse(data);
        return document.RootElement.GetProperty("Message").GetString()!;
    }

    [Fact]
    public void EncodeAction_WritesReadableTextAndTheFlag_AndDecodesToTheAction()
    {
        DateTimeOffset at = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);
        byte[] data = RoomMessageCodec.EncodeAction("waves", Alice, "alice", at);

        Assert.Equal($$"""{"Message":"* alice waves","SenderID":"{{Alice}}","SenderNick":"alice","Timestamp":1700000000123,"Action":true}""",
            Encoding.UTF8.GetString(data));
        Assert.Equal(new RoomMessage("waves", Alice, "alice", at, Action: true), RoomMessageCodec.Decode(data));
        Assert.Equal("* alice waves", OlderReaderText(data));
    }

    [Fact]
    public void AnOrdinaryMessage_HasNoActionField()
    {
        byte[] data = RoomMessageCodec.Encode("* not an action", Alice, "alice", DateTimeOffset.UnixEpoch);

        Assert.DoesNotContain("Action", Encoding.UTF8.GetString(data), StringComparison.Ordinal);
        Assert.False(RoomMessageCodec.Decode(data).Action);
    }

    [Theory]
    [InlineData("* alice waves", "false")]        // not flagged
    [InlineData("* alice waves", "\"true\"")]     // not a JSON true
    [InlineData("* alice waves", "1")]
    [InlineData("* bob waves", "true")]           // another nick than the sender's
    [InlineData("waves", "true")]                 // no readable prefix
    [InlineData("* alice ", "true")]              // nothing after the prefix
    public void AFlagThatDoesNotFit_ShowsTheTextAsWritten(string message, string flag)
    {
        RoomMessage m = Decode($$"""{"Message":"{{message}}","SenderID":"{{Alice}}","SenderNick":"alice","Action":{{flag}}}""");

        Assert.False(m.Action);
        Assert.Equal(message, m.Text);
    }

    [Fact]
    public void TheFlag_MatchesWithoutRegardToCase_AsGoDoes()
    {
        RoomMessage m = Decode($$"""{"message":"* alice dances","senderid":"{{Alice}}","sendernick":"alice","action":true}""");

        Assert.Equal(("dances", true), (m.Text, m.Action));
    }
}

/// <summary>An action between two real nodes, and what a reader that ignores the flag sees of it.</summary>
public sealed class ActionNetworkTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task Me_ReachesAnotherNodeAsAnAction_AndAnOlderReaderSeesReadableText()
    {
        await using ChatNode alice = await ChatNode.StartAsync("alice");
        await using ChatNode bob = await ChatNode.StartAsync("bob");
        // A bare gossipsub node in the lobby: it reads the data as go's chat example (or Echo before actions) does.
        await using Libp2pHost olderHost = await TestHosts.StartAsync();
        await using PubsubRouter older = new(olderHost, TestNetworks.FastPubsub, NullLoggerFactory.Instance);
        await older.StartAsync(Ct);
        await using PubsubSubscription olderLobby = older.Subscribe(RoomTopic.ForRoom("lobby"));
        await bob.Chat.ConnectAsync(alice.Address, Ct);
        await olderHost.DialAsync(Multiaddr.Parse(alice.Address), Ct);
        await TestNetworks.InTopicAsync(alice.Network, bob.Network);
        await TestHosts.WaitUntilAsync(() => alice.Network.Router.TopicPeers("chat-room:lobby").Contains(olderHost.PeerId)
            && older.TopicPeers("chat-room:lobby").Contains(alice.Id), "the older reader and alice share the lobby", TestNetworks.Wait);

        await alice.Chat.SubmitAsync("/me waves at bob", Ct);

        ChatMessage sent = await alice.MessageAsync("waves at bob");
        ChatMessage received = await bob.MessageAsync("waves at bob");
        Assert.True(sent.Action);
        Assert.True(received.Action);
        Assert.Equal((sent.Id, "alice", MessageOrigin.Room), (received.Id, received.SenderNick, received.Origin));
        // The stored form (its signed envelope) opens to the same action, so history keeps it one.
        Assert.True(SignedRoomMessage.Verify(received));
        ChatMessage? reopened = SignedRoomMessage.Open("lobby", received.Envelope!, DateTimeOffset.UtcNow, out string? error);
        Assert.Null(error);
        Assert.True(reopened!.Action);

        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TestNetworks.Wait);
        PubsubMessage heard = await olderLobby.Messages.ReadAsync(deadline.Token);
        using JsonDocument document = JsonDocument.Parse(heard.Data);
        Assert.Equal("* alice waves at bob", document.RootElement.GetProperty("Message").GetString());
        Assert.Equal("alice", document.RootElement.GetProperty("SenderNick").GetString());
    }
}
