using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Core.Tests.Files;

/// <summary>Downloads through the chat against a fake sender: names, verification, resume, limits, links.</summary>
public sealed class FileSharingTests : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob111111111111111111111111111111111111111";

    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("echo-files-test-");
    private readonly FakeDirectNetwork _network = new();
    private ChatManager _manager = null!;
    private ChatSubscription _events = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Downloads => Path.Combine(_temp.FullName, "downloads");

    private ChatManager NewManager(long maxFileSize = 1 << 30) => new(_network, new ChatOptions
    {
        Nick = "me",
        Files = new FileSharingOptions
        {
            DownloadsDirectory = Downloads,
            StateDirectory = Path.Combine(_temp.FullName, "state"),
            MaxFileSize = maxFileSize,
            RetryDelay = TimeSpan.FromMilliseconds(20),
            ProgressInterval = TimeSpan.Zero,
        },
    }, NullLogger<ChatManager>.Instance);

    public async ValueTask InitializeAsync()
    {
        _network.Connected[Bob] = true;
        _network.KeepOpenOnDispose = true;
        await StartAsync(NewManager());
    }

    private async Task StartAsync(ChatManager manager)
    {
        _manager = manager;
        _events = manager.Subscribe();
        await manager.StartAsync(Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _manager.DisposeAsync();
        _temp.Delete(recursive: true);
    }

    private Task<T> NextAsync<T>(Func<T, bool>? match = null) where T : ChatEvent => _events!.NextAsync(match, timeout: TimeSpan.FromSeconds(10));

    private async Task<FileOffer> OfferFromBobAsync(string name, byte[] content)
    {
        FileOffer offer = _network.AddRemote(name, content);
        _network.Inject(new DirectArrived(Bob, new DirectEnvelope(Echo.Core.Direct.DirectIds.New(), "bob", DateTimeOffset.UtcNow, null, offer)));
        Assert.Equal(offer, (await NextAsync<FileOfferEvent>()).Offer);
        return offer;
    }

    /// <summary>Waits for the end of a download: the done event, or the error's message as a failure.</summary>
    private async Task<ChatEvent> FinishedAsync(string id) =>
        await NextAsync<ChatEvent>(e => e is FileDoneEvent d && d.Id == id || e is FileErrorEvent f && f.Id == id);

    private static byte[] Content(int size, int seed = 1)
    {
        byte[] bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private string[] FilesOutsideDownloads() =>
        [.. Directory.EnumerateFileSystemEntries(_temp.FullName, "*", SearchOption.AllDirectories)
            .Where(p => !p.StartsWith(Downloads + Path.DirectorySeparatorChar, StringComparison.Ordinal) && p != Downloads
                        && !p.StartsWith(Path.Combine(_temp.FullName, "state"), StringComparison.Ordinal))];

    [Theory(Timeout = 20_000)]
    [InlineData("../../x", "_.._x")]
    [InlineData("/etc/passwd", "_etc_passwd")]
    [InlineData("a\u0000b", "a_b")]
    [InlineData("CON", "_CON")]
    public async Task Get_HostileName_LandsAsASafeNameInsideDownloads(string name, string expected)
    {
        byte[] content = Content(10_000);
        FileOffer offer = await OfferFromBobAsync(name, content);

        await _manager.SubmitAsync("/get " + offer.Id, Ct);

        FileDoneEvent done = Assert.IsType<FileDoneEvent>(await FinishedAsync(offer.Id));
        Assert.Equal(Path.Combine(Downloads, expected), done.Path);
        Assert.Equal(content, await File.ReadAllBytesAsync(done.Path, Ct));
        Assert.Empty(FilesOutsideDownloads());
        Assert.Empty(Directory.GetFiles(Path.Combine(Downloads, ".echo-partial")));
    }

    [Fact(Timeout = 20_000)]
    public async Task Get_TenThousandCharacterName_IsShortenedInsideDownloads()
    {
        FileOffer offer = await OfferFromBobAsync(new string('n', 10_000) + ".txt", Content(100));
        await _manager.SubmitAsync("/get " + offer.Id[..8], Ct);

        FileDoneEvent done = Assert.IsType<FileDoneEvent>(await FinishedAsync(offer.Id));
        Assert.Equal(Downloads, Path.GetDirectoryName(done.Path));
        Assert.True(Path.GetFileName(done.Path).Length <= SafeFileName.MaxBytes);
        Assert.EndsWith(".txt", done.Path);
    }

    [Fact(Timeout = 20_000)]
    public async Task Get_CorruptedBytes_AreDiscardedAndNeverShownAsComplete()
    {
        byte[] content = Content(50_000);
        FileOffer offer = await OfferFromBobAsync("data.bin", content);
        _network.Serve = (bytes, offset) =>
        {
            byte[] copy = bytes[(int)offset..];
            copy[^1] ^= 0x01;
            return copy;
        };

        await _manager.SubmitAsync("/get " + offer.Id, Ct);

        FileErrorEvent error = Assert.IsType<FileErrorEvent>(await FinishedAsync(offer.Id));
        Assert.Contains("SHA-256 mismatch", error.Message);
        Assert.Equal([Path.Combine(Downloads, ".echo-partial")], Directory.GetFileSystemEntries(Downloads));
        Assert.Empty(Directory.GetFiles(Path.Combine(Downloads, ".echo-partial")));
    }

    [Fact(Timeout = 20_000)]
    public async Task Get_TruncatedTransfer_ResumesFromWhereItStopped()
    {
        byte[] content = Content(100_000);
        FileOffer offer = await OfferFromBobAsync("part.bin", content);
        int calls = 0;
        _network.Serve = (bytes, offset) => Interlocked.Increment(ref calls) == 1 ? bytes[(int)offset..40_000] : bytes[(int)offset..];

        await _manager.SubmitAsync("/get " + offer.Id, Ct);

        FileDoneEvent done = Assert.IsType<FileDoneEvent>(await FinishedAsync(offer.Id));
        Assert.Equal([0L, 40_000L], _network.Requests);
        Assert.Equal(content, await File.ReadAllBytesAsync(done.Path, Ct));
    }

    [Fact(Timeout = 20_000)]
    public async Task Get_SenderSendsMoreThanOffered_NothingBeyondTheOfferedSizeIsWritten()
    {
        byte[] content = Content(30_000);
        FileOffer offer = await OfferFromBobAsync("exact.bin", content);
        _network.Serve = (bytes, offset) => [.. bytes[(int)offset..], .. Content(1_000_000, 2)];

        await _manager.SubmitAsync("/get " + offer.Id, Ct);

        FileDoneEvent done = Assert.IsType<FileDoneEvent>(await FinishedAsync(offer.Id));
        Assert.Equal(content, await File.ReadAllBytesAsync(done.Path, Ct));
    }

    [Fact(Timeout = 20_000)]
    public async Task Get_OverTheSizeLimit_IsRefusedBeforeAnyTransfer()
    {
        await _manager.DisposeAsync();
        await StartAsync(NewManager(maxFileSize: 1000));
        FileOffer offer = await OfferFromBobAsync("big.bin", Content(1001));

        await _manager.SubmitAsync("/get " + offer.Id, Ct);

        FileErrorEvent error = Assert.IsType<FileErrorEvent>(await FinishedAsync(offer.Id));
        Assert.Contains("limit", error.Message);
        Assert.Empty(_network.Requests);
    }

    [Fact(Timeout = 20_000)]
    public async Task Get_UnknownId_IsAnErrorAndNothingIsFetched()
    {
        await _manager.SubmitAsync("/get 0123456789abcdef0123456789abcdef", Ct);
        Assert.Contains("no file offer", (await NextAsync<FileErrorEvent>()).Message);
        Assert.Empty(_network.Requests);
    }

    /// <summary>Rule F-4 (docs/LIMITS.md): an existing file or a link with the name is never overwritten or followed.</summary>
    [Fact(Timeout = 20_000)]
    public async Task Get_NameTakenByAFileOrALink_GetsANumberedName()
    {
        Directory.CreateDirectory(Downloads);
        string outside = Path.Combine(_temp.FullName, "outside.txt");
        await File.WriteAllTextAsync(outside, "keep", Ct);
        await File.WriteAllTextAsync(Path.Combine(Downloads, "a.txt"), "mine", Ct);
        File.CreateSymbolicLink(Path.Combine(Downloads, "b.txt"), outside);
        File.CreateSymbolicLink(Path.Combine(Downloads, "c.txt"), Path.Combine(_temp.FullName, "missing.txt"));

        foreach (string name in new[] { "a.txt", "b.txt", "c.txt" })
        {
            FileOffer offer = await OfferFromBobAsync(name, Content(1000));
            await _manager.SubmitAsync("/get " + offer.Id, Ct);
            FileDoneEvent done = Assert.IsType<FileDoneEvent>(await FinishedAsync(offer.Id));
            Assert.Equal(Path.Combine(Downloads, Path.GetFileNameWithoutExtension(name) + " (1).txt"), done.Path);
        }
        Assert.Equal("mine", await File.ReadAllTextAsync(Path.Combine(Downloads, "a.txt"), Ct));
        Assert.Equal("keep", await File.ReadAllTextAsync(outside, Ct));
        Assert.False(File.Exists(Path.Combine(_temp.FullName, "missing.txt")));
    }

    [Fact(Timeout = 20_000)]
    public async Task Get_PartialFolderIsALink_IsRefusedAndNothingIsWrittenThroughIt()
    {
        Directory.CreateDirectory(Downloads);
        DirectoryInfo elsewhere = Directory.CreateDirectory(Path.Combine(_temp.FullName, "elsewhere"));
        Directory.CreateSymbolicLink(Path.Combine(Downloads, ".echo-partial"), elsewhere.FullName);
        FileOffer offer = await OfferFromBobAsync("x.bin", Content(1000));

        await _manager.SubmitAsync("/get " + offer.Id, Ct);

        Assert.Contains("symbolic link", Assert.IsType<FileErrorEvent>(await FinishedAsync(offer.Id)).Message);
        Assert.Empty(elsewhere.GetFileSystemInfos());
    }

    [Fact(Timeout = 20_000)]
    public async Task Get_AfterARestart_ResumesThePartialFileWhenTheSenderConnects()
    {
        byte[] content = Content(200_000);
        FileOffer offer = await OfferFromBobAsync("restart.bin", content);
        TaskCompletionSource firstPart = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _network.Serve = (bytes, offset) =>
        {
            firstPart.TrySetResult();
            _network.Connected[Bob] = false;     // the connection drops after 70,000 bytes
            return bytes[(int)offset..70_000];
        };
        await _manager.SubmitAsync("/get " + offer.Id, Ct);
        await firstPart.Task.WaitAsync(Ct);
        await NextAsync<FileProgressEvent>(p => p.Bytes == 70_000);
        await _manager.DisposeAsync();

        _network.Serve = (bytes, offset) => bytes[(int)offset..];
        await StartAsync(NewManager());
        // This network cannot dial: the resumed download says the sender is away, and goes on when it connects.
        Assert.Contains("cannot reach bob", (await NextAsync<FileErrorEvent>(e => e.Id == offer.Id)).Message);
        _network.Connected[Bob] = true;
        _network.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/1/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));

        FileDoneEvent done = Assert.IsType<FileDoneEvent>(await FinishedAsync(offer.Id));
        Assert.Equal([0L, 70_000L], _network.Requests);
        Assert.Equal(content, await File.ReadAllBytesAsync(done.Path, Ct));
    }

    [Fact(Timeout = 20_000)]
    public async Task Send_OffersOnlyThatFile_AndServesItByIdToThePeerItWasOfferedTo()
    {
        string path = Path.Combine(_temp.FullName, "mine.txt");
        await File.WriteAllTextAsync(path, "hello file", Ct);

        await _manager.SubmitAsync($"/send {path} {Bob}", Ct);

        FileOfferedEvent offered = await NextAsync<FileOfferedEvent>();
        (string to, DirectEnvelope envelope) = Assert.Single(_network.Sent);
        Assert.Equal(Bob, to);
        Assert.Equal(offered.Offer, envelope.Offer);
        Assert.Equal("mine.txt", offered.Offer.Name);
        Assert.Equal(path, _network.Offers!(Bob, offered.Offer.Id)!.Path);
        Assert.Null(_network.Offers(Bob, Echo.Core.Direct.DirectIds.New()));
        Assert.Null(_network.Offers("12D3KooWSomeoneElse00000000000000000000000000000000", offered.Offer.Id));
        await File.AppendAllTextAsync(path, "changed", Ct);
        Assert.Null(_network.Offers(Bob, offered.Offer.Id));
    }
}
