using System.Threading.Channels;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Files;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Core.Tests.Files;

/// <summary>L-file-timing, progress: a download reports its progress at most once per 250 ms (four a second) of the chat's clock.</summary>
public sealed class ProgressIntervalTests : IAsyncDisposable
{
    private const string Bob = "12D3KooWBob111111111111111111111111111111111111111";
    private const int Chunk = DownloadWriter.BufferSize;    // what a download writes at a time

    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("echo-progress-test-");
    private readonly DialingDirectNetwork _network = new();
    private readonly List<IAsyncDisposable> _owned = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
        await _network.Inner.Chat.DisposeAsync();
        _temp.Delete(recursive: true);
    }

    /// <summary>Hands out its content one chunk at a time, each when the test releases it.</summary>
    private sealed class GatedStream(byte[] content) : Stream
    {
        private readonly Channel<bool> _released = Channel.CreateUnbounded<bool>();
        private readonly Channel<long> _waiting = Channel.CreateUnbounded<long>();
        private int _position;
        private int _end;

        /// <summary>The offsets at which the reader waited for the next chunk.</summary>
        public ChannelReader<long> Waiting => _waiting.Reader;

        public void Release() => _released.Writer.TryWrite(true);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position == content.Length)
                return 0;
            if (_position == _end)
            {
                _waiting.Writer.TryWrite(_position);
                await _released.Reader.ReadAsync(cancellationToken);
                _end = Math.Min(content.Length, _end + Chunk);
            }
            int n = Math.Min(buffer.Length, _end - _position);
            content.AsMemory(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static async Task<T> ReadAsync<T>(Channel<ChatEvent> events) where T : ChatEvent
    {
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (true)
        {
            if (await events.Reader.ReadAsync(timeout.Token) is T found)
                return found;
        }
    }

    [Fact(Timeout = 20_000)]
    public async Task Progress_IsReportedNoSoonerThan250MillisecondsAfterTheLastReport()
    {
        TimeSpan interval = TimeSpan.FromMilliseconds(250);
        FileSharingOptions options = new()
        {
            DownloadsDirectory = Path.Combine(_temp.FullName, "downloads"),
            StateDirectory = Path.Combine(_temp.FullName, "state"),
        };
        Assert.Equal(interval, options.ProgressInterval);
        FakeTimeProvider time = new();
        Channel<ChatEvent> events = Channel.CreateUnbounded<ChatEvent>();
        byte[] content = new byte[5 * Chunk];
        new Random(7).NextBytes(content);
        GatedStream stream = new(content);
        _network.OpenStream = (_, _) => stream;
        _network.Inner.Connected[Bob] = true;
        PeerDialing dialing = new(_network, TimeSpan.FromSeconds(15), e => events.Writer.TryWrite(e), NullLogger.Instance, time);
        _owned.Add(dialing);
        FileTransfers files = new(_network, options, e => events.Writer.TryWrite(e), NullLogger.Instance, dialing.ConnectAsync, time);
        _owned.Add(files);
        files.Start();
        FileOffer offer = _network.Inner.AddRemote("bob.bin", content);
        Assert.True(files.OnOffer(offer, Bob, "bob", room: null));

        files.Get(offer.Id);
        // A chunk is reported once the next one has arrived and the first is being written.
        for (int i = 0; i < 2; i++)
        {
            await stream.Waiting.ReadAsync(Ct);
            stream.Release();
        }
        Assert.Equal(Chunk, (await ReadAsync<FileProgressEvent>(events)).Bytes);

        // The next chunk stored a tick short of 250 ms later is not reported...
        Assert.Equal(2L * Chunk, await stream.Waiting.ReadAsync(Ct));
        time.Advance(interval - TimeSpan.FromTicks(1));
        stream.Release();
        Assert.Equal(3L * Chunk, await stream.Waiting.ReadAsync(Ct));       // chunk 2 is stored (and was not reported)
        // ...the one stored at 250 ms is.
        time.Advance(TimeSpan.FromTicks(1));
        stream.Release();
        Assert.Equal(3L * Chunk, (await ReadAsync<FileProgressEvent>(events)).Bytes);

        Assert.Equal(4L * Chunk, await stream.Waiting.ReadAsync(Ct));
        stream.Release();
        Assert.Equal(content.Length, (await ReadAsync<FileProgressEvent>(events)).Bytes);   // the last is always told
        await ReadAsync<FileDoneEvent>(events);
    }
}
