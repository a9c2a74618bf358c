using System.Security.Cryptography;
using System.Text;
using Echo.Core.Direct;
using Echo.Core.Files;
using Echo.Core.Ports;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Protocols.Direct;
using Echo.Protocols.Files;
using Echo.Protocols.Rooms;
using Google.Protobuf;

namespace Echo.Protocols.Tests.Direct;

public sealed class DirectProtocolTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly FileOffer Offer = new(DirectIds.New(), "report.pdf", 1234, new string('a', 64));

    [Fact(Timeout = 30_000)]
    public async Task Direct_TextAndOffer_ArriveFromTheAuthenticatedPeerAndAreAcknowledged()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);

        DirectEnvelope sent = new(DirectIds.New(), "bob", DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123), "hi", Offer);
        Task sending = b.SendDirectAsync(a.LocalPeerId, sent, Ct);     // returns once acknowledged

        DirectArrived arrived = await a.Events.NextAsync<DirectArrived>();
        Assert.Equal(b.LocalPeerId, arrived.PeerId);
        Assert.Equal(sent with { Offer = Offer with { Addresses = [b.Host.ListenAddresses[0].ToString()] } }, arrived.Envelope);
        // No acknowledgement until the chat says the message is stored.
        await Task.Delay(300, Ct);
        Assert.False(sending.IsCompleted);
        arrived.Receipt!.Stored();
        await sending.WaitAsync(TestNetworks.Wait, Ct);
    }

    [Fact(Timeout = 30_000)]
    public async Task Direct_TheChatCouldNotStoreIt_TheSenderIsToldWhy()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);

        Task sending = b.SendDirectAsync(a.LocalPeerId, new DirectEnvelope(DirectIds.New(), "bob", DateTimeOffset.UtcNow, "hi", null), Ct);
        (await a.Events.NextAsync<DirectArrived>()).Receipt!.Refused("disk full");
        ChatNetworkException e = await Assert.ThrowsAsync<ChatNetworkException>(() => sending.WaitAsync(TestNetworks.Wait, Ct));
        Assert.Contains("disk full", e.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task Direct_ToAPeerNotConnected_FailsWithAReason()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        ChatNetworkException e = await Assert.ThrowsAsync<ChatNetworkException>(() =>
            b.SendDirectAsync(a.LocalPeerId, new DirectEnvelope(DirectIds.New(), "bob", DateTimeOffset.UtcNow, "hi", null), Ct));
        Assert.Contains("not connected", e.Message);
    }

    [Fact(Timeout = 30_000)]
    public async Task File_OnlyOfferedIdsAreServed_FromTheAskedOffset()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);
        string path = Path.GetTempFileName();
        try
        {
            byte[] content = RandomNumberGenerator.GetBytes(300_000);
            await File.WriteAllBytesAsync(path, content, Ct);
            FileOffer offer = new(DirectIds.New(), "x", content.Length, Convert.ToHexStringLower(SHA256.HashData(content)));
            a.Offers = (peer, id) => peer == b.LocalPeerId && id == offer.Id
                ? new OfferedFile(offer, path, File.GetLastWriteTimeUtc(path), peer)
                : null;

            (Stream bytes, long size) = await b.OpenFileAsync(a.LocalPeerId, offer.Id, 100_000, Ct);
            await using (bytes)
            {
                MemoryStream copy = new();
                await bytes.CopyToAsync(copy, Ct);
                Assert.Equal(content.Length, size);
                Assert.Equal(content[100_000..], copy.ToArray());
            }

            FileSharingException refused = await Assert.ThrowsAsync<FileSharingException>(() => b.OpenFileAsync(a.LocalPeerId, DirectIds.New(), 0, Ct));
            Assert.Contains("no such offer", refused.Message);
            await Assert.ThrowsAsync<FileSharingException>(() => b.OpenFileAsync(a.LocalPeerId, offer.Id, content.Length + 1, Ct));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("not-an-id", "hi", "bad id")]
    [InlineData(null, "", "neither text nor a file offer")]
    public void Check_RejectsBadFrames(string? id, string text, string reason)
    {
        DirectFrame frame = new() { Id = id ?? DirectIds.New(), Text = text, Nick = "x" };
        Assert.Equal(reason, DirectProtocol.Check(frame, out DirectEnvelope? envelope));
        Assert.Null(envelope);
    }

    [Fact]
    public void Check_RejectsTextOverTheLimitAndBadOffers()
    {
        Assert.NotNull(DirectProtocol.Check(new DirectFrame { Id = DirectIds.New(), Text = new string('x', 4097) }, out _));
        DirectFrame badOffer = DirectProtocol.ToFrame(new DirectEnvelope(DirectIds.New(), "x", DateTimeOffset.UtcNow, null, Offer));
        badOffer.Offer.Sha256 = ByteString.CopyFrom(new byte[31]);
        Assert.Equal("bad file offer", DirectProtocol.Check(badOffer, out _));
    }

    [Fact(Timeout = 30_000)]
    public async Task Direct_AFrameOfMaxFrameBytesIsAnswered_OneByteMoreResetsTheStream()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);

        DirectFrame atLimit = FrameOfSize(DirectProtocol.MaxFrameBytes);
        P2PStream stream = await b.Host.OpenStreamAsync(a.Id(), DirectProtocol.ProtocolId, Ct);
        await stream.Output.WriteLengthPrefixedAsync(atLimit.ToByteArray(), Ct);
        using (CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            deadline.CancelAfter(TestNetworks.Wait);
            byte[]? answer = await stream.Input.ReadLengthPrefixedAsync(DirectProtocol.MaxFrameBytes, DirectProtocol.ProtocolId, deadline.Token);
            Assert.NotNull(answer);
            DirectAck ack = DirectAck.Parser.ParseFrom(answer);
            Assert.Equal(atLimit.Id, ack.Id);
            Assert.False(ack.Accepted);     // read whole and checked: its text is over the text limit
        }

        DirectFrame overLimit = FrameOfSize(DirectProtocol.MaxFrameBytes + 1);
        P2PStream over = await b.Host.OpenStreamAsync(a.Id(), DirectProtocol.ProtocolId, Ct);
        await over.Output.WriteLengthPrefixedAsync(overLimit.ToByteArray(), Ct);
        using (CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            deadline.CancelAfter(TestNetworks.Wait);
            await Assert.ThrowsAnyAsync<IOException>(async () =>
                await over.Input.ReadLengthPrefixedAsync(DirectProtocol.MaxFrameBytes, DirectProtocol.ProtocolId, deadline.Token));
        }
    }

    /// <summary>A frame whose encoding is exactly <paramref name="size"/> bytes.</summary>
    private static DirectFrame FrameOfSize(int size)
    {
        DirectFrame frame = new() { Id = DirectIds.New(), Text = new string('x', size) };
        while (frame.CalculateSize() > size)
            frame.Text = frame.Text[..^1];
        Assert.Equal(size, frame.CalculateSize());
        return frame;
    }

    [Fact(Timeout = 30_000)]
    public async Task Direct_AnAction_ArrivesFlagged_AndIsTheReadableStarNickTextOnTheWire()
    {
        await using Libp2pChatNetwork a = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(a.ListenAddresses[0], Ct);

        DirectEnvelope sent = new(DirectIds.New(), "bob", DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123), "waves", null)
        {
            Action = true,
        };
        Task sending = b.SendDirectAsync(a.LocalPeerId, sent, Ct);
        DirectArrived arrived = await a.Events.NextAsync<DirectArrived>();
        arrived.Receipt!.Stored();
        await sending.WaitAsync(TestNetworks.Wait, Ct);
        Assert.Equal("waves", arrived.Envelope.Text);
        Assert.True(arrived.Envelope.Action);

        // On the wire: the text a peer without the flag shows, and the flag (field 6).
        DirectFrame frame = DirectProtocol.ToFrame(sent);
        Assert.Equal("* bob waves", frame.Text);
        Assert.True(frame.Action);
        DirectFrame old = DirectFrame.Parser.ParseFrom(frame.ToByteArray());
        old.Action = false;   // a peer that does not know the flag
        Assert.Null(DirectProtocol.Check(old, out DirectEnvelope? plain));
        Assert.Equal(("* bob waves", false), (plain!.Text, plain.Action));

        // A flag on a text that is not "* nick …" is ignored.
        DirectFrame odd = new() { Id = DirectIds.New(), Nick = "bob", Text = "just words", Action = true };
        Assert.Null(DirectProtocol.Check(odd, out DirectEnvelope? shown));
        Assert.Equal(("just words", false), (shown!.Text, shown.Action));
    }

    [Fact]
    public void RoomMessage_FileOffer_RoundTripsAndIsAnExtraFieldOthersIgnore()
    {
        byte[] data = RoomMessageCodec.Encode("offers report.pdf", "12D3KooWX", "alice", DateTimeOffset.UnixEpoch, Offer);
        string json = Encoding.UTF8.GetString(data);
        Assert.StartsWith("{\"Message\":\"offers report.pdf\",\"SenderID\":\"12D3KooWX\",\"SenderNick\":\"alice\",\"Timestamp\":0,\"File\":{", json);
        Assert.Equal(Offer, RoomMessageCodec.Decode(data).File);

        // a go chat-example message has none; a malformed one is ignored and the text still counts
        Assert.Null(RoomMessageCodec.Decode("{\"Message\":\"m\",\"SenderID\":\"x\"}"u8).File);
        RoomMessage odd = RoomMessageCodec.Decode("{\"Message\":\"m\",\"SenderID\":\"x\",\"File\":{\"Id\":\"../x\",\"Name\":1}}"u8);
        Assert.Equal("m", odd.Text);
        Assert.Null(odd.File);
    }
}
