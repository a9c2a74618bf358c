using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Files;

namespace Echo.Headless.Tests;

public sealed class DirectEventFormatTests
{
    private const string Bob = "12D3KooWBob";
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);
    private static readonly FileOffer Offer = new("0123456789abcdef0123456789abcdef", "a\u001b.txt", 42, new string('f', 64));

    public static TheoryData<ChatEvent, string> Lines => new()
    {
        { new DirectMessageEvent(new DirectMessage("id1", Bob, "bob", "hi", At, false, true)),
            """{"type":"dm","from":"12D3KooWBob","nick":"bob","text":"hi","ts":"2023-11-14T22:13:20.123Z","id":"id1"}""" },
        { new DirectMessageEvent(new DirectMessage("id2", Bob, "me", "yo", At, true, false)),
            """{"type":"dm-sent","to":"12D3KooWBob","nick":"me","text":"yo","ts":"2023-11-14T22:13:20.123Z","id":"id2"}""" },
        { new DirectMessageEvent(new DirectMessage("id3", Bob, "bob", "lost", At, false, true) { NotSaved = true }),
            """{"type":"dm","from":"12D3KooWBob","nick":"bob","text":"lost","ts":"2023-11-14T22:13:20.123Z","id":"id3","notSaved":true}""" },
        { new DirectMessageEvent(new DirectMessage("id4", Bob, "bob", "waves", At, false, true) { Action = true }),
            """{"type":"dm","from":"12D3KooWBob","nick":"bob","text":"waves","ts":"2023-11-14T22:13:20.123Z","id":"id4","action":true}""" },
        { new MessageEvent(new ChatMessage("m1", "lobby", Bob, "bob", "lost", At, MessageOrigin.Room) { NotSaved = true }),
            """{"type":"message","room":"lobby","from":"12D3KooWBob","nick":"bob","text":"lost","ts":"2023-11-14T22:13:20.123Z","id":"m1","origin":"room","notSaved":true}""" },
        { new DirectDeliveredEvent(Bob, "id2"), """{"type":"dm-ack","to":"12D3KooWBob","id":"id2"}""" },
        { new FileOfferEvent(Offer, Bob, "bob", "lobby"),
            """{"type":"file-offer","id":"0123456789abcdef0123456789abcdef","name":"a\u001B.txt","size":42,"sha256":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","from":"12D3KooWBob","nick":"bob","room":"lobby"}""" },
        { new FileProgressEvent("x", "a", 10, 42, 1000.4), """{"type":"file-progress","id":"x","bytes":10,"size":42,"rate":1000}""" },
        { new FileResumedEvent("x", "a", 10, 42), """{"type":"file-resume","id":"x","offset":10,"size":42}""" },
        { new FileDoneEvent("x", "/d/a.txt", "ab"), """{"type":"file-done","id":"x","path":"/d/a.txt","sha256":"ab"}""" },
        { new FileErrorEvent("x", "SHA-256 mismatch"), """{"type":"file-error","id":"x","message":"SHA-256 mismatch"}""" },
        { new StatsEvent(new Echo.Core.Ports.NodeStats(2, 1, null, 1024, 4096,
                new Dictionary<string, long> { ["store.author-rate"] = 7, ["history.address-bytes"] = 3 })),
            """{"type":"stats","connectionsIn":2,"connectionsOut":1,"memoryInUse":1024,"memoryBudget":4096,"refused":{"history.address-bytes":3,"store.author-rate":7}}""" },
        { new StatsEvent(new Echo.Core.Ports.NodeStats(0, 3, null, null, null, new Dictionary<string, long>())
            { BootstrapConnected = 3, BootstrapPeers = 6 }),
            """{"type":"stats","connectionsIn":0,"connectionsOut":3,"bootstrapConnected":3,"bootstrapPeers":6,"refused":{}}""" },
        { new StatsEvent(new Echo.Core.Ports.NodeStats(0, 3, null, null, null, new Dictionary<string, long> { ["dht.providers-per-key"] = 2 })
            { BootstrapConnected = 3, BootstrapPeers = 6, DhtProviderRecords = 40 }),
            """{"type":"stats","connectionsIn":0,"connectionsOut":3,"bootstrapConnected":3,"bootstrapPeers":6,"dhtProviderRecords":40,"refused":{"dht.providers-per-key":2}}""" },
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void Format_DirectAndFileEvents(ChatEvent chatEvent, string expected) =>
        Assert.Equal(expected, HeadlessEventWriter.Format(chatEvent));
}
