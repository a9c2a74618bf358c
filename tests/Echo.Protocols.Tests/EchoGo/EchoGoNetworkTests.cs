using System.IO.Pipelines;
using System.Text;
using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols.EchoGo;

namespace Echo.Protocols.Tests.EchoGo;

/// <summary>echo-go's line protocol between real adapters, and against a raw stream playing echo-go.</summary>
public sealed class EchoGoNetworkTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<MessageArrived> LineAsync(Libp2pChatNetwork at, string text) =>
        at.Events.NextAsync<MessageArrived>(m => m.Message.Text == text);

    /// <summary>
    /// <paramref name="dialer"/> dialed <paramref name="other"/>: the dialer opened the one stream, and
    /// both write to it (the other never opens one of its own while the dialer's is there).
    /// </summary>
    private static Task OneStreamOpenedByAsync(Libp2pChatNetwork dialer, Libp2pChatNetwork other) =>
        TestHosts.WaitUntilAsync(() =>
            dialer.EchoGo.Describe(other.Id()) == (1, true) && other.EchoGo.Describe(dialer.Id()) == (1, false),
            "one echo-go stream, opened by the dialer, written to by both", TestNetworks.Wait);

    [Fact(Timeout = 60_000)]
    public async Task TwoAdapters_OpenOnIdentify_ReportIt_AndChatBothWaysInTheDefaultRoom()
    {
        // Neither joins the lobby's topic: what they say to it travels as echo-go lines only.
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);
        // Both speak echo-go (the stream opens) but neither is shown as an echo-go peer: they also speak gossipsub.
        await OneStreamOpenedByAsync(b, a);

        await a.PublishAsync("lobby", "alice", "hello over echo-go", Ct);
        ChatMessage atB = (await LineAsync(b, "hello over echo-go")).Message;
        Assert.Equal(("lobby", a.Id().ToString(), "alice", MessageOrigin.EchoGo), (atB.Room, atB.SenderId, atB.SenderNick, atB.Origin));
        Assert.False(atB.Verified);
        await b.PublishAsync("lobby", "bob", "and back", Ct);
        Assert.Equal("bob", (await LineAsync(a, "and back")).Message.SenderNick);

        // Other rooms are not echo-go's.
        await a.PublishAsync("dev", "alice", "not for echo-go", Ct);
        await a.PublishAsync("lobby", "alice", "after the dev message", Ct);
        MessageArrived next = await b.Events.NextAsync<MessageArrived>();
        Assert.Equal("after the dev message", next.Message.Text);
    }

    /// <summary>
    /// Both open at once: both streams stay open (neither side closes one while the connection lives),
    /// each side writes to the one the other opened, and every line is heard exactly once.
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task SimultaneousOpen_BothStreamsStay_EachWritesOnThePeersStream_LosesNoLine_Repeatedly()
    {
        const int Rounds = 6;
        long crossings = 0;
        ChatNetworkOptions manual = TestNetworks.Options with { OpenEchoGoOnIdentify = false };
        for (int round = 0; round < Rounds; round++)
        {
            await using Libp2pChatNetwork a = await TestNetworks.StartAsync(manual);
            await using Libp2pChatNetwork b = await TestNetworks.StartAsync(manual);
            await b.ConnectAsync(a.ListenAddresses[0], Ct);
            await TestHosts.Identified(a.Host, b.Id()).WaitAsync(TestNetworks.Wait, Ct);
            await TestHosts.Identified(b.Host, a.Id()).WaitAsync(TestNetworks.Wait, Ct);

            // Both open at once, then both speak at once, before either has seen the other's stream.
            TaskCompletionSource go = new(TaskCreationOptions.RunContinuationsAsynchronously);
            Task openA = Task.Run(async () => { await go.Task; await a.OpenEchoGoAsync(b.Id(), Ct); }, Ct);
            Task openB = Task.Run(async () => { await go.Task; await b.OpenEchoGoAsync(a.Id(), Ct); }, Ct);
            go.SetResult();
            await Task.WhenAll(openA, openB).WaitAsync(TestNetworks.Wait, Ct);
            await Task.WhenAll(a.PublishAsync("lobby", "alice", $"a{round}", Ct), b.PublishAsync("lobby", "bob", $"b{round}", Ct));

            Assert.Equal("alice", (await LineAsync(b, $"a{round}")).Message.SenderNick);
            Assert.Equal("bob", (await LineAsync(a, $"b{round}")).Message.SenderNick);
            // An open that found the peer's stream already there opened nothing; else both stay, each written by the other side.
            await TestHosts.WaitUntilAsync(() =>
            {
                (int aOpen, bool? aOut) = a.EchoGo.Describe(b.Id());
                (int bOpen, bool? bOut) = b.EchoGo.Describe(a.Id());
                return aOpen == bOpen && (aOpen == 2 ? aOut == false && bOut == false : aOpen == 1 && aOut != bOut && aOut is not null);
            }, "each side writes on a stream the other reads", TestNetworks.Wait);
            await a.PublishAsync("lobby", "alice", $"a{round} again", Ct);
            await b.PublishAsync("lobby", "bob", $"b{round} again", Ct);
            Assert.Equal($"a{round} again", (await b.Events.NextAsync<MessageArrived>()).Message.Text);
            Assert.Equal($"b{round} again", (await a.Events.NextAsync<MessageArrived>()).Message.Text);
            crossings += a.EchoGo.Crossings + b.EchoGo.Crossings;
        }
        // The race was real: in some rounds both streams existed.
        Assert.True(crossings > 0, $"the opens never crossed in {Rounds} rounds");
        TestContext.Current.SendDiagnosticMessage($"{crossings} crossings in {Rounds} rounds");
    }

    /// <summary>
    /// A line for an Echo node (it speaks gossipsub too) is written only when a stream is already open:
    /// queued before, it would arrive after gossipsub offered the peer the same message. (An echo-go
    /// peer gets its lines queued until its stream is there: see the interop tests.)
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task EchoPeer_NoLineIsQueuedBeforeAStreamIsOpen()
    {
        ChatNetworkOptions manual = TestNetworks.Options with { OpenEchoGoOnIdentify = false };
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync(manual);
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync(manual);
        await b.ConnectAsync(a.ListenAddresses[0], Ct);
        await TestHosts.Identified(a.Host, b.Id()).WaitAsync(TestNetworks.Wait, Ct);
        await TestHosts.Identified(b.Host, a.Id()).WaitAsync(TestNetworks.Wait, Ct);
        Assert.True(a.EchoGo.Speaks(b.Id()));

        await a.PublishAsync("lobby", "alice", "before any stream", Ct);
        await b.OpenEchoGoAsync(a.Id(), Ct);
        await TestHosts.WaitUntilAsync(() => a.EchoGo.Describe(b.Id()) == (1, false), "a has b's stream", TestNetworks.Wait);
        await a.PublishAsync("lobby", "alice", "with a stream", Ct);
        Assert.Equal("with a stream", (await b.Events.NextAsync<MessageArrived>()).Message.Text);
    }

    /// <summary>
    /// A line from an Echo node we share the default room with is not shown: that node sends the
    /// room's messages through gossipsub, and a line it wrote while it took us for a peer outside the
    /// room (around a connection that replaced another, before our subscription was heard there)
    /// would show the message twice.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task ALineFromAnEchoNodeInTheDefaultRoomWithUs_IsNotShown_ItsRoomMessageIs()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await a.JoinRoomAsync("lobby", Ct);
        await b.JoinRoomAsync("lobby", Ct);
        await b.ConnectAsync(a.ListenAddresses[0], Ct);
        await OneStreamOpenedByAsync(b, a);
        string topic = Echo.Protocols.Rooms.RoomTopic.ForRoom("lobby");
        await TestHosts.WaitUntilAsync(() => a.Router.TopicPeers(topic).Contains(b.Id()) && b.Router.IsPeer(a.Id()),
            "a knows b is in the lobby", TestNetworks.Wait);

        // What a would write while it took b for a peer outside the room, then the room message itself.
        Assert.Equal(1, a.EchoGo.Broadcast(EchoGoLine.Format("alice", "said once"), _ => true));
        await a.PublishAsync("lobby", "alice", "said once", Ct);
        MessageArrived first = await b.Events.NextAsync<MessageArrived>();
        Assert.Equal(("said once", MessageOrigin.Room), (first.Message.Text, first.Message.Origin));
        await TestHosts.WaitUntilAsync(() => b.EchoGoLinesFromRoomPeers == 1, "b read the line and did not show it", TestNetworks.Wait);
        await a.PublishAsync("lobby", "alice", "next", Ct);
        Assert.Equal("next", (await b.Events.NextAsync<MessageArrived>()).Message.Text);
    }

    /// <summary>
    /// A raw peer plays echo-go when its open crosses ours: it opens its own stream and closes ours at
    /// once, unread. The line we queued while ours settled goes to its stream, once; ours is never
    /// reset, and the next line goes to its stream too.
    /// </summary>
    [Fact(Timeout = 60_000)]
    public async Task EchoGoPeerClosesOurStreamUnread_TheSettlingLineGoesToItsOwnStream()
    {
        ChatNetworkOptions options = TestNetworks.Options with
        {
            OpenEchoGoOnIdentify = false,
            EchoGo = new EchoGoOptions { Settle = TimeSpan.FromSeconds(5) },
        };
        await using Libp2pChatNetwork chat = await TestNetworks.StartAsync(options);
        await using Libp2pHost raw = await TestHosts.StartAsync();
        TaskCompletionSource ownOpened = new(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource<bool> closedOurs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        raw.SetStreamHandler(EchoGoLine.ProtocolId, async (stream, ct) =>
        {
            await ownOpened.Task.WaitAsync(ct);
            await stream.Input.CompleteAsync();
            await stream.CompleteOutputAsync();
            closedOurs.TrySetResult(true);
        });
        await chat.ConnectAsync(TestHosts.AddressOf(raw).ToString(), Ct);

        await chat.OpenEchoGoAsync(raw.PeerId, Ct);
        await chat.PublishAsync("lobby", "alice", "while ours settles", Ct);
        P2PStream own = await raw.OpenStreamAsync(chat.Id(), EchoGoLine.ProtocolId, Ct);
        ownOpened.SetResult();
        await closedOurs.Task.WaitAsync(TestNetworks.Wait, Ct);
        Assert.Equal("alice|while ours settles", (await EchoGoLineReader.ReadLineAsync(own.Input, Ct).AsTask().WaitAsync(TestNetworks.Wait, Ct))?.Text);
        await TestHosts.WaitUntilAsync(() => chat.EchoGo.Describe(raw.PeerId) == (1, false), "only the peer's stream is left, and used",
            TestNetworks.Wait);
        await chat.PublishAsync("lobby", "alice", "and after", Ct);
        Assert.Equal("alice|and after", (await EchoGoLineReader.ReadLineAsync(own.Input, Ct).AsTask().WaitAsync(TestNetworks.Wait, Ct))?.Text);
        await own.Output.WriteAsync("gopher|heard you\n"u8.ToArray(), Ct);
        Assert.Equal("gopher", (await LineAsync(chat, "heard you")).Message.SenderNick);
    }

    /// <summary>A raw stream plays echo-go against an adapter under a chat manager.</summary>
    [Fact(Timeout = 60_000)]
    public async Task RawEchoGoPeer_LinesShowInTheLobby_OurMessagesComeBackAsLines_AnOverlongLineIsShownCut()
    {
        RecordingLoggerFactory logs = new();
        await using ChatNode chat = await ChatNode.StartAsync("alice", loggers: logs);
        await using Libp2pHost raw = await TestHosts.StartAsync();
        await raw.DialAsync(Multiaddr.Parse(chat.Address), Ct);
        P2PStream stream = await raw.OpenStreamAsync(chat.Id, EchoGoLine.ProtocolId, Ct);
        Assert.True((await chat.EventAsync<Echo.Core.Events.PeerUpdatedEvent>(u => u.Peer.IsEchoGo)).Peer.IsEchoGo);

        await stream.Output.WriteAsync("gopher|hi from go\nno bar at all\n"u8.ToArray(), Ct);
        ChatMessage named = await chat.MessageAsync("hi from go");
        Assert.Equal(("lobby", raw.PeerId.ToString(), "gopher", MessageOrigin.EchoGo), (named.Room, named.SenderId, named.SenderNick, named.Origin));
        ChatMessage anonymous = await chat.MessageAsync("no bar at all");
        Assert.Equal((raw.PeerId.ToString(), PeerInfo.ShortPeerId(raw.PeerId.ToString())), (anonymous.SenderId, anonymous.SenderNick));

        // What alice says in the lobby reaches the echo-go peer as one line.
        await chat.Chat.SendAsync("hello gopher", Ct);
        Assert.Equal("alice|hello gopher", (await EchoGoLineReader.ReadLineAsync(stream.Input, Ct).AsTask().WaitAsync(TestNetworks.Wait, Ct))?.Text);

        // A line far longer than what is kept of one: read to its '\n' and shown cut, with the marker;
        // the stream lives on (closing it would make echo-go forget us).
        byte[] flood = new byte[EchoGoLine.MaxLineBytes * 8];
        flood.AsSpan().Fill((byte)'x');
        await stream.Output.WriteAsync("gopher|last words\ngopher|"u8.ToArray(), Ct);
        await stream.Output.WriteAsync(flood, Ct);
        await stream.Output.WriteAsync("\ngopher|after the flood\n"u8.ToArray(), Ct);
        await chat.MessageAsync("last words");
        ChatMessage cut = (await chat.EventAsync<Echo.Core.Events.MessageEvent>(m => m.Message.Text.StartsWith("xxx", StringComparison.Ordinal))).Message;
        Assert.EndsWith(EchoGoLine.TruncatedMarker, cut.Text, StringComparison.Ordinal);
        Assert.Equal(ChatLimits.MaxTextBytes, Encoding.UTF8.GetByteCount(cut.Text));
        await chat.MessageAsync("after the flood");
        Assert.Contains("shown truncated", (await logs.WaitForAsync(e => e.EventId == 3106, TestNetworks.Wait)).Message);
        Assert.Equal((1, false), chat.Network.EchoGo.Describe(raw.PeerId));
        await chat.Chat.SendAsync("still hearing you", Ct);
        Assert.Equal("alice|still hearing you", (await EchoGoLineReader.ReadLineAsync(stream.Input, Ct).AsTask().WaitAsync(TestNetworks.Wait, Ct))?.Text);
    }
}
