using System.Security.Cryptography;
using System.Threading.Channels;
using Echo.Core.Commands;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Core.Tests.Files;

/// <summary>
/// /get and /msg for a peer that is not connected: they dial it (offer addresses first), say so,
/// and fail within the bound with the reason; /cancel and a stalled sender stop a download that
/// /get resumes.
/// </summary>
public sealed class PeerReachTests : IAsyncLifetime
{
    private const string Bob = "12D3KooWBob111111111111111111111111111111111111111";
    private static readonly string[] BobAddresses = ["/ip4/192.168.1.20/tcp/4001", "/ip4/127.0.0.1/tcp/4001"];
    private const int Chunk = 1024 * 1024;   // what a download writes at a time

    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("echo-reach-test-");
    private readonly DialingDirectNetwork _network = new();
    private ChatManager? _manager;
    private ChatSubscription? _events;
    private readonly List<IAsyncDisposable> _owned = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Downloads => Path.Combine(_temp.FullName, "downloads");

    private FileSharingOptions FileOptions => new()
    {
        DownloadsDirectory = Downloads,
        StateDirectory = Path.Combine(_temp.FullName, "state"),
        RetryDelay = TimeSpan.FromMilliseconds(20),
        ProgressInterval = TimeSpan.Zero,
    };

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_manager is not null)
            await _manager.DisposeAsync();
        foreach (IAsyncDisposable owned in _owned)
            await owned.DisposeAsync();
        await _network.Inner.Chat.DisposeAsync();
        _temp.Delete(recursive: true);
    }

    private async Task StartManagerAsync()
    {
        _manager = new ChatManager(_network, new ChatOptions { Nick = "me", Files = FileOptions, PeerConnectTimeout = TimeSpan.FromSeconds(5) },
            NullLogger<ChatManager>.Instance);
        _events = _manager.Subscribe();
        await _manager.StartAsync(Ct);
    }

    private Task<T> NextAsync<T>(Func<T, bool>? match = null) where T : ChatEvent => _events!.NextAsync(match, timeout: TimeSpan.FromSeconds(10));

    private async Task<FileOffer> OfferFromBobAsync(byte[] content)
    {
        FileOffer offer = _network.Inner.AddRemote("bob.bin", content) with { Addresses = BobAddresses };
        _network.Inner.Inject(new DirectArrived(Bob, new DirectEnvelope(DirectIds.New(), "bob", DateTimeOffset.UtcNow, null, offer)));
        Assert.Equal(offer, (await NextAsync<FileOfferEvent>()).Offer);
        return offer;
    }

    private static byte[] Content(int size)
    {
        byte[] bytes = new byte[size];
        new Random(7).NextBytes(bytes);
        return bytes;
    }

    private static void Connect(DialingDirectNetwork network) => network.Inner.Connected[Bob] = true;

    [Fact(Timeout = 20_000)]
    public async Task Get_SenderNotConnected_DialsItFromTheOfferAddresses_AndTheFileArrives()
    {
        await StartManagerAsync();
        byte[] content = Content(50_000);
        FileOffer offer = await OfferFromBobAsync(content);

        await _manager!.SubmitAsync("/get " + offer.Id, Ct);

        Assert.Equal("connecting to bob…", (await NextAsync<NoticeEvent>(n => n.Text.StartsWith("connecting", StringComparison.Ordinal))).Text);
        FileDoneEvent done = await NextAsync<FileDoneEvent>(d => d.Id == offer.Id);
        Assert.Equal(content, await File.ReadAllBytesAsync(done.Path, Ct));
        (string peer, IReadOnlyList<string> hints) = Assert.Single(_network.Dials);
        Assert.Equal(Bob, peer);
        Assert.Equal(BobAddresses, hints);
    }

    [Fact(Timeout = 20_000)]
    public async Task Get_SenderUnreachable_SaysWhy_ARepeatedGetDialsAgain_AndItGoesOnWhenTheSenderConnects()
    {
        await StartManagerAsync();
        _network.Dial = (_, _) => throw new ChatNetworkException("/ip4/127.0.0.1/tcp/4001: connection refused");
        byte[] content = Content(50_000);
        FileOffer offer = await OfferFromBobAsync(content);

        await _manager!.SubmitAsync("/get " + offer.Id, Ct);

        await NextAsync<NoticeEvent>(n => n.Text == "connecting to bob…");
        FileErrorEvent error = await NextAsync<FileErrorEvent>(e => e.Id == offer.Id);
        Assert.Contains("cannot reach bob", error.Message);
        Assert.Contains("connection refused", error.Message);
        Assert.Contains("/get " + offer.Id, error.Message);
        Assert.DoesNotContain(_manager.FileOffers, f => f.Downloading);

        await _manager.SubmitAsync("/get " + offer.Id, Ct);
        await NextAsync<FileErrorEvent>(e => e.Id == offer.Id);
        Assert.Equal(2, _network.Dials.Count);

        // Bob connects by himself: the download goes on without another /get.
        Connect(_network);
        _network.Inner.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/4001/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));
        FileDoneEvent done = await NextAsync<FileDoneEvent>(d => d.Id == offer.Id);
        Assert.Equal(content, await File.ReadAllBytesAsync(done.Path, Ct));
    }

    [Fact(Timeout = 20_000)]
    public async Task Get_DialThatNeverAnswers_FailsWhenTheBoundRunsOut()
    {
        FakeTimeProvider time = new();
        Channel<ChatEvent> events = Channel.CreateUnbounded<ChatEvent>();
        TaskCompletionSource dialing = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _network.Dial = async (_, cancellationToken) =>
        {
            dialing.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        };
        FileTransfers files = NewTransfers(time, events, out FileOffer offer, Content(1000));

        files.Get(offer.Id);

        Assert.Equal("connecting to bob…", Assert.IsType<NoticeEvent>(await events.Reader.ReadAsync(Ct)).Text);
        await dialing.Task.WaitAsync(Ct);
        time.Advance(TimeSpan.FromSeconds(14));
        Assert.False(events.Reader.TryRead(out _));
        time.Advance(TimeSpan.FromSeconds(1));
        FileErrorEvent error = Assert.IsType<FileErrorEvent>(await events.Reader.ReadAsync(Ct));
        Assert.Contains("cannot reach bob: no connection within 15 s", error.Message);
    }

    [Fact(Timeout = 20_000)]
    public async Task Cancel_StopsTheDownload_KeepsThePartialFile_AndGetResumesFromIt()
    {
        await StartManagerAsync();
        Connect(_network);
        byte[] content = Content(Chunk + Chunk / 2);
        FileOffer offer = await OfferFromBobAsync(content);
        SilentAfterStream silent = new(content[..(Chunk + 100)]);
        _network.OpenStream = (offset, _) => offset == 0 ? silent : new MemoryStream(content[(int)offset..]);

        await _manager!.SubmitAsync("/get " + offer.Id, Ct);
        await silent.Silent.Task.WaitAsync(Ct);
        await _manager.SubmitAsync("/cancel " + offer.Id[..6], Ct);

        FileErrorEvent cancelled = await NextAsync<FileErrorEvent>(e => e.Id == offer.Id);
        Assert.Contains("cancelled at 1.0 MiB", cancelled.Message);
        Assert.Contains("/get " + offer.Id, cancelled.Message);
        Assert.Equal(Chunk, new FileInfo(Path.Combine(Downloads, ".echo-partial", offer.Id + ".part")).Length);
        // The download's task ends just after it told the error: wait for it, bounded.
        using (CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            bound.CancelAfter(TimeSpan.FromSeconds(10));
            while (_manager.FileOffers.Any(f => f.Downloading))
                await Task.Delay(10, bound.Token);
        }

        await _manager.SubmitAsync("/get " + offer.Id, Ct);
        FileDoneEvent done = await NextAsync<FileDoneEvent>(d => d.Id == offer.Id);
        Assert.Equal([0L, Chunk], _network.Inner.Requests);
        Assert.Equal(content, await File.ReadAllBytesAsync(done.Path, Ct));
    }

    [Fact(Timeout = 20_000)]
    public async Task Cancel_NothingRunning_IsAnError()
    {
        await StartManagerAsync();

        await _manager!.SubmitAsync("/cancel 1234abcd", Ct);

        Assert.Contains("no download 1234abcd is running", (await NextAsync<FileErrorEvent>()).Message);
    }

    [Fact(Timeout = 20_000)]
    public async Task Download_WithoutDataFor30Seconds_IsDropped_StaysPausedAcrossARestart_AndGetResumesIt()
    {
        FakeTimeProvider time = new();
        Channel<ChatEvent> events = Channel.CreateUnbounded<ChatEvent>();
        Connect(_network);
        byte[] content = Content(Chunk + Chunk / 2);
        SilentAfterStream silent = new(content[..(Chunk + 100)]);
        _network.OpenStream = (offset, _) => offset == 0 ? silent : new MemoryStream(content[(int)offset..]);
        FileTransfers files = NewTransfers(time, events, out FileOffer offer, content);

        files.Get(offer.Id);
        await silent.Silent.Task.WaitAsync(Ct);
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.True(files.KnownOffers().Single().Downloading);
        time.Advance(TimeSpan.FromSeconds(1));

        FileErrorEvent stalled = await ReadAsync<FileErrorEvent>(events);
        Assert.Contains("no data for 30 s, dropped at 1.0 MiB of 1.5 MiB", stalled.Message);
        await files.DisposeAsync();

        // A restart leaves the paused download alone; /get resumes it.
        Channel<ChatEvent> after = Channel.CreateUnbounded<ChatEvent>();
        FileTransfers restarted = new(_network, FileOptions, e => after.Writer.TryWrite(e), NullLogger.Instance,
            Own(new PeerDialing(_network, TimeSpan.FromSeconds(15), e => after.Writer.TryWrite(e), NullLogger.Instance, time)).ConnectAsync, time);
        _owned.Add(restarted);
        restarted.Start();
        Assert.False(Assert.Single(restarted.KnownOffers()).Downloading);
        restarted.Get(offer.Id);
        FileDoneEvent done = await ReadAsync<FileDoneEvent>(after);
        Assert.Equal([0L, Chunk], _network.Inner.Requests);
        Assert.Equal(content, await File.ReadAllBytesAsync(done.Path, Ct));
    }

    [Fact(Timeout = 20_000)]
    public async Task Download_WhoseAttemptsAllFailWithoutData_IsDroppedAfter30Seconds()
    {
        FakeTimeProvider time = new();
        Channel<ChatEvent> events = Channel.CreateUnbounded<ChatEvent>();
        Connect(_network);
        TaskCompletionSource asked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _network.OpenStream = (_, _) =>
        {
            asked.TrySetResult();
            throw new ChatNetworkException("the sender did not answer in time");
        };
        FileTransfers files = NewTransfers(time, events, out FileOffer offer, Content(1000));

        files.Get(offer.Id);
        await asked.Task.WaitAsync(Ct);
        time.Advance(TimeSpan.FromSeconds(30));

        FileErrorEvent stalled = await ReadAsync<FileErrorEvent>(events);
        Assert.Contains("no data for 30 s, dropped", stalled.Message);
    }

    [Fact(Timeout = 20_000)]
    public async Task Msg_ToAPeerNotConnected_DialsItWithItsOfferAddresses_AndTheMessageGoes()
    {
        await StartManagerAsync();
        await OfferFromBobAsync(Content(10));

        await _manager!.SubmitAsync("/msg bob hello", Ct);

        await NextAsync<NoticeEvent>(n => n.Text == "connecting to bob…");
        DirectDeliveredEvent delivered = await NextAsync<DirectDeliveredEvent>();
        Assert.Equal(Bob, delivered.PeerId);
        (string to, DirectEnvelope sent) = Assert.Single(_network.Inner.Sent);
        Assert.Equal((Bob, "hello"), (to, sent.Text));
        Assert.Equal(BobAddresses, Assert.Single(_network.Dials).Hints);
    }

    [Fact(Timeout = 20_000)]
    public async Task Msg_ToAnUnreachablePeer_SaysWhy_AndTheMessageStaysInTheOutbox()
    {
        await StartManagerAsync();
        _network.Dial = (_, _) => throw new ChatNetworkException("no address of it is known");
        await OfferFromBobAsync(Content(10));

        await _manager!.SubmitAsync("/msg bob hello", Ct);

        ErrorEvent error = await NextAsync<ErrorEvent>();
        Assert.Equal("bob cannot be reached: no address of it is known; the message waits in the outbox and is sent when they connect",
            error.Message);
        Assert.Empty(_network.Inner.Sent);
        Assert.Single(await _manager.DirectConversationAsync(Bob, 10, Ct), m => m.Outgoing && !m.Delivered);

        Connect(_network);
        _network.Inner.Inject(new PeerJoined(new PeerInfo(Bob, "/ip4/127.0.0.1/tcp/4001/p2p/" + Bob, PeerSource.Inbound, DateTimeOffset.UtcNow)));
        await NextAsync<DirectDeliveredEvent>();
        Assert.Equal("hello", Assert.Single(_network.Inner.Sent).Envelope.Text);
    }

    [Theory]
    [InlineData("/cancel 9f0c", "9f0c")]
    [InlineData("/CANCEL   9f0c1234  ", "9f0c1234")]
    public void Parse_Cancel(string line, string id) =>
        Assert.Equal(new ChatCommand.Cancel(id), CommandParser.Parse(line));

    [Theory]
    [InlineData("/cancel")]
    [InlineData("/cancel a b")]
    public void Parse_Cancel_BadUsage_IsInvalid(string line) =>
        Assert.IsType<ChatCommand.Invalid>(CommandParser.Parse(line));

    private FileTransfers NewTransfers(TimeProvider time, Channel<ChatEvent> events, out FileOffer offer, byte[] content)
    {
        PeerDialing dialing = Own(new PeerDialing(_network, new ChatOptions { Nick = "me" }.PeerConnectTimeout, e => events.Writer.TryWrite(e), NullLogger.Instance, time));
        FileTransfers files = new(_network, FileOptions, e => events.Writer.TryWrite(e), NullLogger.Instance, dialing.ConnectAsync, time);
        _owned.Add(files);
        files.Start();
        offer = _network.Inner.AddRemote("bob.bin", content) with { Addresses = BobAddresses };
        Assert.True(files.OnOffer(offer, Bob, "bob", room: null));
        return files;
    }

    private T Own<T>(T disposable) where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private static async Task<T> ReadAsync<T>(Channel<ChatEvent> events) where T : ChatEvent
    {
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (true)
        {
            ChatEvent next = await events.Reader.ReadAsync(timeout.Token);
            if (next is T wanted)
                return wanted;
            if (next is FileErrorEvent error && typeof(T) != typeof(FileErrorEvent))
                Assert.Fail("download failed: " + error.Message);
        }
    }
}
