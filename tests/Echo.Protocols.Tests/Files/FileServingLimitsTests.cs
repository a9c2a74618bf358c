using System.IO.Pipelines;
using System.Security.Cryptography;
using Echo.Core.Direct;
using Echo.Core.Files;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Protocols.Files;
using Google.Protobuf;

namespace Echo.Protocols.Tests.Files;

/// <summary>
/// L-served-files and L-served-idle: the file server sends at most so many files to one peer and in
/// total (the rest are reset and counted), and resets a transfer whose reader takes nothing for the
/// idle timeout, closing its file and giving its descriptor back.
/// </summary>
public sealed class FileServingLimitsTests : IAsyncDisposable
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(2);

    private readonly string _path = Path.GetTempFileName();
    private readonly FileOffer _offer;

    public FileServingLimitsTests()
    {
        // Far more than a stream window and the pipes hold: a reader that takes nothing stops the sender.
        byte[] content = RandomNumberGenerator.GetBytes(4 << 20);
        File.WriteAllBytes(_path, content);
        _offer = new FileOffer(DirectIds.New(), "big.bin", content.Length, Convert.ToHexStringLower(SHA256.HashData(content)));
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask DisposeAsync()
    {
        File.Delete(_path);
        return ValueTask.CompletedTask;
    }

    private async Task<Libp2pChatNetwork> StartSenderAsync(int perPeer, int total, TimeSpan idle)
    {
        Libp2pChatNetwork sender = await TestNetworks.StartAsync(TestNetworks.Options with
        {
            ServedStreamIdleTimeout = idle,
            MaxServedFilesPerPeer = perPeer,
            MaxServedFiles = total,
        });
        sender.Offers = (_, id) => id == _offer.Id ? new OfferedFile(_offer, _path, File.GetLastWriteTimeUtc(_path), null) : null;
        return sender;
    }

    /// <summary>Asks <paramref name="sender"/> for the file on a new stream and reads nothing of it.</summary>
    private async Task<P2PStream> RequestWithoutReadingAsync(Libp2pChatNetwork fetcher, Libp2pChatNetwork sender)
    {
        P2PStream stream = await fetcher.Host.OpenStreamAsync(sender.Id(), FileProtocol.ProtocolId, Ct);
        await stream.Output.WriteLengthPrefixedAsync(new FileRequest { Id = _offer.Id }.ToByteArray(), Ct);
        return stream;
    }

    /// <summary>Reads what arrives without consuming it until the stream is reset (true) or ends (false).</summary>
    private static async Task<bool> ResetAsync(P2PStream stream)
    {
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TestNetworks.Wait);
        try
        {
            while (true)
            {
                ReadResult read = await stream.Input.ReadAsync(deadline.Token);
                stream.Input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
                if (read.IsCompleted)
                    return false;
            }
        }
        catch (IOException)
        {
            return true;
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task ARequestHeaderOfMaxHeaderBytesIsAnswered_OneByteMoreResetsTheStream()
    {
        await using Libp2pChatNetwork sender = await StartSenderAsync(perPeer: 2, total: 32, TimeSpan.FromMinutes(5));
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(sender.ListenAddresses[0], Ct);

        P2PStream atLimit = await OpenWithHeaderAsync(b, sender, FileProtocol.MaxHeaderBytes);
        using (CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            deadline.CancelAfter(TestNetworks.Wait);
            byte[]? answer = await atLimit.Input.ReadLengthPrefixedAsync(FileProtocol.MaxHeaderBytes, FileProtocol.ProtocolId, deadline.Token);
            Assert.NotNull(answer);
            FileResponse response = FileResponse.Parser.ParseFrom(answer);
            Assert.False(response.Ok);
            Assert.Equal("no such offer", response.Reason);     // read whole: its id is not an offer
        }

        P2PStream overLimit = await OpenWithHeaderAsync(b, sender, FileProtocol.MaxHeaderBytes + 1);
        Assert.True(await ResetAsync(overLimit), "a request header over the limit was not reset");
    }

    [Fact(Timeout = 60_000)]
    public async Task PastThePerPeerAndTotalCaps_RequestsAreResetAndCounted_WhileOtherPeersStillGetFiles()
    {
        await using Libp2pChatNetwork sender = await StartSenderAsync(perPeer: 2, total: 3, TimeSpan.FromMinutes(5));
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await using Libp2pChatNetwork c = await TestNetworks.StartAsync();
        await b.ConnectAsync(sender.ListenAddresses[0], Ct);
        await c.ConnectAsync(sender.ListenAddresses[0], Ct);

        List<P2PStream> held = [];
        for (int i = 1; i <= 2; i++)
        {
            held.Add(await RequestWithoutReadingAsync(b, sender));
            await TestHosts.WaitUntilAsync(() => sender.Files!.Serving == held.Count, $"{held.Count} files being sent", TestNetworks.Wait);
        }
        Assert.True(await ResetAsync(await RequestWithoutReadingAsync(b, sender)), "b's third request was not reset");
        Assert.Equal(1, sender.Files!.RefusedPerPeer);

        held.Add(await RequestWithoutReadingAsync(c, sender));
        await TestHosts.WaitUntilAsync(() => sender.Files.Serving == 3, "3 files being sent", TestNetworks.Wait);
        Assert.True(await ResetAsync(await RequestWithoutReadingAsync(c, sender)), "the request past the total was not reset");
        Assert.Equal(1, sender.Files.RefusedTotal);
        Assert.Equal(3, sender.Files.Serving);

        // The fetchers give up the held transfers; then c fetches the whole file.
        foreach (P2PStream stream in held)
            stream.Reset();
        await TestHosts.WaitUntilAsync(() => sender.Files.Serving == 0, "the held transfers ended", TestNetworks.Wait);
        (Stream bytes, long size) = await c.OpenFileAsync(sender.LocalPeerId, _offer.Id, 0, Ct);
        await using (bytes)
        {
            using MemoryStream copy = new();
            await bytes.CopyToAsync(copy, Ct);
            Assert.Equal(_offer.Size, size);
            Assert.Equal(_offer.Sha256, Convert.ToHexStringLower(SHA256.HashData(copy.ToArray())));
        }
        Assert.Equal(0, sender.Files.IdleResets);
    }

    [Fact(Timeout = 60_000)]
    public async Task ATransferWhoseReaderTakesNothing_IsResetAfterTheIdleTimeout_AndItsDescriptorReleased()
    {
        await using Libp2pChatNetwork sender = await StartSenderAsync(perPeer: 2, total: 32, Idle);
        await using Libp2pChatNetwork b = await TestNetworks.StartAsync();
        await b.ConnectAsync(sender.ListenAddresses[0], Ct);
        long descriptorsBefore = sender.Host.ResourceSnapshot().DescriptorsInUse;

        P2PStream stream = await RequestWithoutReadingAsync(b, sender);
        await TestHosts.WaitUntilAsync(() => sender.Host.ResourceSnapshot().DescriptorsInUse == descriptorsBefore + 1, "the file open",
            TestNetworks.Wait);
        long started = Environment.TickCount64;

        Assert.True(await ResetAsync(stream), "the idle transfer was not reset");
        TimeSpan took = TimeSpan.FromMilliseconds(Environment.TickCount64 - started);
        Assert.InRange(took, Idle - TimeSpan.FromMilliseconds(500), Idle + TimeSpan.FromSeconds(10));
        await TestHosts.WaitUntilAsync(() => sender.Files!.Serving == 0 && sender.Host.ResourceSnapshot().DescriptorsInUse == descriptorsBefore,
            "the transfer's file and descriptor released", TestNetworks.Wait);
        Assert.Equal(1, sender.Files!.IdleResets);
        Assert.NotNull(b.Host.GetConnection(sender.Id()));
    }

    /// <summary>Opens a file stream from <paramref name="fetcher"/> and sends a request whose encoding is exactly <paramref name="size"/> bytes.</summary>
    private static async Task<P2PStream> OpenWithHeaderAsync(Libp2pChatNetwork fetcher, Libp2pChatNetwork sender, int size)
    {
        FileRequest request = new() { Id = new string('x', size) };
        while (request.CalculateSize() > size)
            request.Id = request.Id[..^1];
        Assert.Equal(size, request.CalculateSize());
        P2PStream stream = await fetcher.Host.OpenStreamAsync(sender.Id(), FileProtocol.ProtocolId, Ct);
        await stream.Output.WriteLengthPrefixedAsync(request.ToByteArray(), Ct);
        return stream;
    }
}
