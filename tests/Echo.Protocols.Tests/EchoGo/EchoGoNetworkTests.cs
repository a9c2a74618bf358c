using System.IO.Pipelines;
using System.Text;
using Echo.Core.Chat;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Tests.Host;
using Echo.Net.Tests.Identify;
using Echo.Protocols.EchoGo;

namespace Echo.Protocols.Tests.EchoGo;

/// <summary>echo-go's line protocol between real adapters, and against a raw stream playing echo-go.</summary>
public sealed class EchoGoNetworkTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<MessageArrived> LineAsync(Libp2pChatNetwork at, string text) =>
        at.Events.NextAsync<MessageArrived>(m => m.Message.Text == text);

    private static bool Smaller(PeerId a, PeerId b) => a.Bytes.SequenceCompareTo(b.Bytes) < 0;

    /// <summary>
    /// Both ends use one stream, the same one; once two streams have met anywhere, it is the one
    /// the smaller id opened. (An open that finds a stream already in use opens nothing.)
    /// </summary>
    private static Task OneStreamEachAsync(Libp2pChatNetwork a, Libp2pChatNetwork b) =>
        TestHosts.WaitUntilAsync(() =>
        {
            (bool? aOut, int aOpen) = a.EchoGo.Describe(b.Id());
            (bool? bOut, int bOpen) = b.EchoGo.Describe(a.Id());
            return aOpen == 1 && bOpen == 1 && aOut is not null && aOut != bOut
                && (a.EchoGo.TieBreaks + b.EchoGo.TieBreaks == 0 || aOut == Smaller(a.Id(), b.Id()));
        }, "each side has exactly one echo-go stream, the same one", TestNetworks.Wait);

    [Fact(Timeout = 60_000)]
    public async Task TwoAdapters_OpenOnIdentify_ReportIt_AndChatBothWaysInTheDefaultRoom()
    {
        // Neither joins the lobby's topic: what they say to it travels as echo-go lines only.
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);
        // Both speak echo-go (the stream opens) but neither is shown as an echo-go peer: they also speak gossipsub.
        await OneStreamEachAsync(a, b);

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

    [Fact(Timeout = 120_000)]
    public async Task SimultaneousOpen_KeepsOneStreamEach_LosesNoLine_Repeatedly()
    {
        const int Rounds = 6;
        long tieBreaks = 0;
        ChatNetworkOptions manual = TestNetworks.Options with { OpenEchoGoOnIdentify = false };
        for (int round = 0; round < Rounds; round++)
        {
            await using Libp2pChatNetwork a = await TestNetworks.StartAsync(manual);
            await using Libp2pChatNetwork b = await TestNetworks.StartAsync(manual);
            await b.ConnectAsync(a.ListenAddresses[0], Ct);
            await TestHosts.Identified(a.Host, b.Id()).WaitAsync(TestNetworks.Wait, Ct);
            await TestHosts.Identified(b.Host, a.Id()).WaitAsync(TestNetworks.Wait, Ct);

            // Both open at once, then both speak at once, before the tie-break has settled anywhere.
            TaskCompletionSource go = new(TaskCreationOptions.RunContinuationsAsynchronously);
            Task openA = Task.Run(async () => { await go.Task; await a.OpenEchoGoAsync(b.Id(), Ct); }, Ct);
            Task openB = Task.Run(async () => { await go.Task; await b.OpenEchoGoAsync(a.Id(), Ct); }, Ct);
            go.SetResult();
            await Task.WhenAll(openA, openB).WaitAsync(TestNetworks.Wait, Ct);
            await Task.WhenAll(a.PublishAsync("lobby", "alice", $"a{round}", Ct), b.PublishAsync("lobby", "bob", $"b{round}", Ct));

            Assert.Equal("alice", (await LineAsync(b, $"a{round}")).Message.SenderNick);
            Assert.Equal("bob", (await LineAsync(a, $"b{round}")).Message.SenderNick);
            await OneStreamEachAsync(a, b);
            // Settled: one more each way on the kept stream, each heard exactly once.
            await a.PublishAsync("lobby", "alice", $"a{round} again", Ct);
            await b.PublishAsync("lobby", "bob", $"b{round} again", Ct);
            Assert.Equal($"a{round} again", (await b.Events.NextAsync<MessageArrived>()).Message.Text);
            Assert.Equal($"b{round} again", (await a.Events.NextAsync<MessageArrived>()).Message.Text);
            tieBreaks += a.EchoGo.TieBreaks + b.EchoGo.TieBreaks;
        }
        // The race was real: in some rounds both streams existed and one had to go.
        Assert.True(tieBreaks > 0, $"no tie-break in {Rounds} rounds of simultaneous opens");
        TestContext.Current.SendDiagnosticMessage($"{tieBreaks} tie-breaks in {Rounds} rounds");
    }

    /// <summary>A raw stream plays echo-go against an adapter under a chat manager.</summary>
    [Fact(Timeout = 60_000)]
    public async Task RawEchoGoPeer_LinesShowInTheLobby_OurMessagesComeBackAsLines_ALongLineClosesTheStream()
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
        Assert.Equal("alice|hello gopher", await EchoGoLineReader.ReadLineAsync(stream.Input, Ct).AsTask().WaitAsync(TestNetworks.Wait, Ct));

        // 64 KiB and one byte without a newline: the stream is closed, what came before was kept.
        byte[] flood = new byte[EchoGoLine.MaxLineBytes + 1];
        flood.AsSpan().Fill((byte)'x');
        await stream.Output.WriteAsync("gopher|last words\n"u8.ToArray(), Ct);
        try
        {
            await stream.Output.WriteAsync(flood, Ct);
        }
        catch (IOException)
        {
            // Reset by Echo while the flood was still being written: what this test expects.
        }
        await chat.MessageAsync("last words");
        Assert.Contains("exceeds", (await logs.WaitForAsync(e => e.EventId == 3106, TestNetworks.Wait)).Message);
        await TestHosts.WaitUntilAsync(() => chat.Network.EchoGo.Describe(raw.PeerId).Open == 0, "the stream is gone", TestNetworks.Wait);
        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            while (true)
            {
                ReadResult read = await stream.Input.ReadAsync(Ct).AsTask().WaitAsync(TestNetworks.Wait, Ct);
                stream.Input.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                    throw new IOException("closed without a reset");
            }
        });
        Assert.DoesNotContain(chat.Messages, m => m.Text.StartsWith("xxx", StringComparison.Ordinal));
    }
}
