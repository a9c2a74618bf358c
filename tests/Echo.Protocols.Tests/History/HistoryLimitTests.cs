using System.Threading.Channels;
using Echo.Core.Ports;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols.History;
using Echo.Protocols.History.Pb;
using Echo.Storage;
using Google.Protobuf;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Protocols.Tests.History;

/// <summary>
/// L-history-page (requests per stream), L-history-identified and L-history-run: what one served
/// stream carries, which "identified" starts a sync, and how a sync run is bounded and repeated. The
/// syncing side is an adapter with its own history; the other side is a plain host whose history
/// handler the test writes, so every request it gets is counted.
/// </summary>
public sealed class HistoryLimitTests : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly string _directory = Directory.CreateTempSubdirectory("echo-history-limits-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
            await _owned[i].DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private static Task Bounded(Task task) => task.WaitAsync(TestNetworks.Wait, Ct);

    /// <summary>An adapter with its own history in room "lobby", whose fetched pages the chat's writer stores.</summary>
    private async Task<Libp2pChatNetwork> StartSyncingAsync(string name, ChatNetworkOptions options, TimeProvider? time = null,
        HostOptions? hostOptions = null)
    {
        SqliteMessageStore store = SqliteMessageStore.Open(Path.Combine(_directory, name + ".db"));
        _owned.Add(store);
        hostOptions ??= new HostOptions();
        Libp2pHost host = new(KeyPair.Generate(), hostOptions with { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] },
            NullLoggerFactory.Instance);
        Libp2pChatNetwork network = new(host, options, NullLoggerFactory.Instance, time, store);
        _owned.Add(network);
        _owned.Add(new HistoryWriterLoop(network, store));
        await network.StartAsync(Ct);
        await network.JoinRoomAsync("lobby", Ct);
        return network;
    }

    /// <summary>
    /// A host serving <see cref="HistorySync.ProtocolId"/> by <paramref name="answer"/> (the request and
    /// its number on the stream, from 1; null leaves it unanswered until the stream ends).
    /// </summary>
    private sealed class HistoryPeer : IAsyncDisposable
    {
        private readonly Channel<HistoryRequest> _requests = Channel.CreateUnbounded<HistoryRequest>();
        private readonly Channel<bool> _ended = Channel.CreateUnbounded<bool>();
        private int _streams;

        private HistoryPeer(Libp2pHost host) => Host = host;

        public Libp2pHost Host { get; }

        /// <summary>Every request, in the order it came.</summary>
        public ChannelReader<HistoryRequest> Requests => _requests.Reader;

        /// <summary>A value for each served stream that ended: true when the requester reset it, false when it closed it.</summary>
        public ChannelReader<bool> Ended => _ended.Reader;

        public int Streams => Volatile.Read(ref _streams);

        public string Address => TestHosts.AddressOf(Host).ToString();

        public static async Task<HistoryPeer> StartAsync(Func<HistoryRequest, int, Task<HistoryResponse?>> answer, HostOptions? options = null)
        {
            HostOptions hostOptions = (options ?? new HostOptions()) with { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] };
            HistoryPeer peer = new(new Libp2pHost(KeyPair.Generate(), hostOptions, NullLoggerFactory.Instance));
            peer.Host.SetStreamHandler(HistorySync.ProtocolId, (stream, ct) => peer.ServeAsync(stream, answer, ct));
            await peer.Host.StartAsync(Ct);
            return peer;
        }

        private async Task ServeAsync(P2PStream stream, Func<HistoryRequest, int, Task<HistoryResponse?>> answer, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _streams);
            bool reset = false;
            try
            {
                for (int n = 1; ; n++)
                {
                    byte[]? frame = await stream.Input.ReadLengthPrefixedAsync(HistorySync.MaxRequestBytes, HistorySync.ProtocolId, cancellationToken);
                    if (frame is null)
                        break;
                    HistoryRequest request = HistoryRequest.Parser.ParseFrom(frame);
                    _requests.Writer.TryWrite(request);
                    if (await answer(request, n) is { } response)
                        await stream.Output.WriteLengthPrefixedAsync(response.ToByteArray(), cancellationToken);
                    else
                    {
                        // Unanswered: wait for the requester to end the stream.
                        while (await stream.Input.ReadLengthPrefixedAsync(HistorySync.MaxRequestBytes, HistorySync.ProtocolId, cancellationToken) is not null)
                        {
                        }
                        break;
                    }
                }
                await stream.CompleteOutputAsync();
            }
            catch (IOException)
            {
                reset = true;
            }
            _ended.Writer.TryWrite(reset);
        }

        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }

    private static Task<HistoryResponse?> Empty(HistoryRequest request, int n) =>
        Task.FromResult<HistoryResponse?>(new HistoryResponse { Epoch = "e", NextSeq = 0, More = false });

    private static async Task<T> NextAsync<T>(ChannelReader<T> reader) =>
        await reader.ReadAsync(Ct).AsTask().WaitAsync(TestNetworks.Wait, Ct);

    [Fact(Timeout = 60_000)]
    public async Task Requests_10000OnOneStreamAreAnswered_ThenTheResponderClosesTheStream()
    {
        Assert.Equal(10_000, HistorySync.MaxRequestsPerStream);
        Libp2pChatNetwork bob = await StartSyncingAsync("bob", TestNetworks.Options);
        Libp2pChatNetwork alice = await TestNetworks.StartAsync();
        _owned.Add(alice);
        await alice.ConnectAsync(bob.ListenAddresses[0], Ct);

        // A request for a malformed room is answered at once with an error, without touching the store.
        P2PStream stream = await alice.Host.OpenStreamAsync(bob.Id(), HistorySync.ProtocolId, Ct);
        byte[] request = new HistoryRequest { Room = "no room!" }.ToByteArray();
        Task writer = Task.Run(async () =>
        {
            for (int i = 0; i < HistorySync.MaxRequestsPerStream + 1; i++)
                await stream.Output.WriteLengthPrefixedAsync(request, Ct);
        }, Ct);
        int answers = 0;
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TestNetworks.Wait);
        while (await stream.Input.ReadLengthPrefixedAsync(HistorySync.MaxResponseBytes, HistorySync.ProtocolId, deadline.Token) is { } frame)
        {
            Assert.NotEmpty(HistoryResponse.Parser.ParseFrom(frame).Error);
            answers++;
        }
        await Bounded(writer);

        Assert.Equal(HistorySync.MaxRequestsPerStream, answers);
    }

    [Fact(Timeout = 60_000)]
    public async Task ASyncRun_FetchesAtMostMaxPagesPerSync_ThenClosesItsStream()
    {
        Assert.Equal(1000, new HistorySyncOptions().MaxPagesPerSync);
        // A peer that always has more: every answer moves its receive position on by one.
        await using HistoryPeer peer = await HistoryPeer.StartAsync((request, n) =>
            Task.FromResult<HistoryResponse?>(new HistoryResponse { Epoch = "e", NextSeq = (ulong)n, More = true }));
        const int pages = 3;
        Libp2pChatNetwork bob = await StartSyncingAsync("bob", TestNetworks.Options with { History = new HistorySyncOptions { MaxPagesPerSync = pages } });

        await bob.ConnectAsync(peer.Address, Ct);

        Assert.False(await NextAsync(peer.Ended));                           // closed, not reset
        Assert.Equal(1, peer.Streams);
        int requests = 0;
        while (peer.Requests.TryRead(out _))
            requests++;
        Assert.Equal(pages, requests);
    }

    [Fact(Timeout = 60_000)]
    public async Task APage_ArrivingOneTickBefore30SecondsIsTaken_At30SecondsTheSyncGivesUp()
    {
        TimeSpan limit = TimeSpan.FromSeconds(30);
        Assert.Equal(limit, new HistorySyncOptions().ResponseTimeout);
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        await using HistoryPeer peer = await HistoryPeer.StartAsync(async (request, n) =>
        {
            if (n > 1)
                return null;                                                  // the second page never comes
            await release.Task;
            return new HistoryResponse { Epoch = "e", NextSeq = 1, More = true };
        });
        Libp2pChatNetwork bob = await StartSyncingAsync("bob", TestNetworks.Options, time);

        await bob.ConnectAsync(peer.Address, Ct);
        await NextAsync(peer.Requests);                                       // asked: the page's clock runs
        time.Advance(limit - TimeSpan.FromTicks(1));
        release.SetResult();
        HistoryRequest second = await NextAsync(peer.Requests);               // the page was taken: the next one is asked for
        Assert.Equal(1UL, second.AfterSeq);

        time.Advance(limit - TimeSpan.FromTicks(1));
        Assert.False(peer.Ended.TryRead(out _));
        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(await NextAsync(peer.Ended));                            // reset by the requester
    }

    [Fact(Timeout = 60_000)]
    public async Task EveryConnectedPeer_IsSyncedAgainEachInterval_OfOneMinute()
    {
        TimeSpan interval = TimeSpan.FromMinutes(1);
        Assert.Equal(interval, new HistorySyncOptions().Interval);
        FakeTimeProvider time = new(DateTimeOffset.UtcNow);
        await using HistoryPeer peer = await HistoryPeer.StartAsync(Empty);
        Libp2pChatNetwork bob = await StartSyncingAsync("bob", TestNetworks.Options, time);

        await bob.ConnectAsync(peer.Address, Ct);
        await NextAsync(peer.Ended);                                          // the sync on connect
        time.Advance(interval - TimeSpan.FromTicks(1));
        Assert.Equal(1, peer.Streams);
        time.Advance(TimeSpan.FromTicks(1));
        await NextAsync(peer.Ended);                                          // the sync a minute later
        Assert.Equal(2, peer.Streams);
    }

    [Fact]
    public void ASyncWithATimeOrderPeer_StartsTwoMinutesBeforeWhereTheLastEnded()
    {
        TimeSpan overlap = new HistorySyncOptions().Overlap;
        Assert.Equal(TimeSpan.FromMinutes(2), overlap);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        HistoryCursor saved = new(now.AddHours(-1).ToUnixTimeMilliseconds(), "id");

        HistoryCursor start = HistorySyncCursor.TimeOrderStart(saved, overlap, now);

        Assert.Equal(saved.TimestampMs - 120_000, start.TimestampMs);
    }

    [Fact(Timeout = 60_000)]
    public async Task Identified_StartsOneSyncPerConnection_LaterIdentifyPushesStartNoneAndAreCounted()
    {
        HostOptions everyPush = new() { MinIdentifyPushInterval = TimeSpan.Zero };
        await using HistoryPeer peer = await HistoryPeer.StartAsync(Empty, everyPush);
        Libp2pChatNetwork bob = await StartSyncingAsync("bob", TestNetworks.Options, hostOptions: everyPush);

        await bob.ConnectAsync(peer.Address, Ct);
        await NextAsync(peer.Ended);
        Assert.Equal(1, peer.Streams);

        // Each new protocol makes the peer push identify; bob processes each push ("identified" again).
        for (int i = 1; i <= 3; i++)
        {
            peer.Host.SetStreamHandler($"/test/pushed/{i}", (stream, _) => { stream.Reset(); return Task.CompletedTask; });
            int pushes = i;
            await TestHosts.WaitUntilAsync(() => bob.GetStats().Refused.GetValueOrDefault("identify.repeat-sync") == pushes,
                $"push {pushes} is counted and starts no sync", TestNetworks.Wait);
        }

        // A new connection syncs again, once.
        Connection first = bob.Host.GetConnection(peer.Host.PeerId)!;
        await first.CloseAsync();
        await TestHosts.WaitUntilAsync(() => bob.Host.GetConnection(peer.Host.PeerId) is not { IsClosed: false } c || c != first,
            "the first connection is gone", TestNetworks.Wait);
        await bob.ConnectAsync(peer.Address, Ct);
        await NextAsync(peer.Ended);
        Assert.Equal(2, peer.Streams);
        Assert.Equal(3, bob.GetStats().Refused.GetValueOrDefault("identify.repeat-sync"));
    }
}
