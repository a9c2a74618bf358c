using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Echo.Net.Yamux;

namespace Echo.Net.Tests.Yamux;

public class YamuxSessionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OpenStream_BothDirections_DataArrivesInOrder()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        Assert.Equal(1u, client.Id);

        await client.Output.WriteAsync("hello"u8.ToArray(), Ct);
        await server.Output.WriteAsync("world!"u8.ToArray(), Ct);
        await client.CompleteOutputAsync();
        await server.CompleteOutputAsync();

        Assert.Equal("hello"u8.ToArray(), await server.Input.ReadToEndAsync(Ct).WaitAsync(Ct));
        Assert.Equal("world!"u8.ToArray(), await client.Input.ReadToEndAsync(Ct).WaitAsync(Ct));
    }

    [Fact(Timeout = 10_000)]
    public async Task ConnectionResetUnderTheSession_IsLoggedAsOneLine_WithoutAStackTrace()
    {
        RecordingLoggerFactory logs = new();
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        await using YamuxSession session = new(local, isClient: true, new YamuxOptions(), TimeProvider.System,
            logs.CreateLogger("yamux"));
        session.Start();

        // What a relay cutting its circuit looks like from here: the transport fails with an I/O error.
        await remote.Output.CompleteAsync(new IOException("the relay reset the circuit"));

        RecordingLoggerFactory.Entry ended = await logs.WaitForAsync(e => e.EventId == 1401, TimeSpan.FromSeconds(5));
        Assert.Null(ended.Exception);
        Assert.Contains("the relay reset the circuit", ended.Message, StringComparison.Ordinal);
        await remote.Input.CompleteAsync();
    }

    [Fact]
    public async Task OpenStream_ServerSide_UsesEvenIds()
    {
        await using SessionPair pair = new();
        YamuxStream first = await pair.Server.OpenStreamAsync(Ct);
        YamuxStream second = await pair.Server.OpenStreamAsync(Ct);
        Assert.Equal(2u, first.Id);
        Assert.Equal(4u, second.Id);
        YamuxStream? accepted = await pair.Client.AcceptStreamAsync(Ct);
        Assert.Equal(2u, accepted?.Id);
    }

    [Fact]
    public async Task Write_MoreThanInitialWindow_ArrivesThroughWindowUpdates()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        byte[] data = StreamTestExtensions.Bytes(3 * 1024 * 1024 + 17);

        Task write = Task.Run(async () =>
        {
            await client.Output.WriteAsync(data, Ct);
            await client.CompleteOutputAsync();
        }, Ct);
        byte[] received = await server.Input.ReadToEndAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await write.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(data, received);
    }

    [Fact]
    public async Task Write_SpanAdvanceFlush_ArrivesInOrder()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        byte[] data = StreamTestExtensions.Bytes(700_000, seed: 5);

        Task write = Task.Run(async () =>
        {
            int offset = 0;
            int step = 1;
            while (offset < data.Length)
            {
                int n = Math.Min(step, data.Length - offset);
                data.AsSpan(offset, n).CopyTo(client.Output.GetSpan(n));
                client.Output.Advance(n);
                offset += n;
                step = step * 3 % 40_000 + 1;   // sizes from 1 byte to ~40 KB
                if (offset % 3 == 0)
                    await client.Output.FlushAsync(Ct);
            }
            await client.CompleteOutputAsync();
        }, Ct);
        byte[] received = await server.Input.ReadToEndAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await write.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(data, received);
    }

    [Fact]
    public async Task Write_64MiBOnOneStream_Sha256Matches()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        const int total = 64 * 1024 * 1024;
        byte[] chunk = StreamTestExtensions.Bytes(256 * 1024, seed: 7);

        Task<byte[]> send = Task.Run(async () =>
        {
            using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            int sent = 0;
            int i = 0;
            while (sent < total)
            {
                // Vary the chunk so a reordering bug would change the hash.
                chunk[i % chunk.Length] ^= (byte)i;
                int n = Math.Min(chunk.Length - (i % 1000), total - sent);
                hash.AppendData(chunk, 0, n);
                await client.Output.WriteAsync(chunk.AsMemory(0, n), Ct);
                sent += n;
                i++;
            }
            await client.CompleteOutputAsync();
            return hash.GetHashAndReset();
        }, Ct);

        using IncrementalHash received = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long count = 0;
        while (true)
        {
            ReadResult result = await server.Input.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                received.AppendData(segment.Span);
            count += result.Buffer.Length;
            server.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                break;
        }
        byte[] expected = await send.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(total, count);
        Assert.Equal(expected, received.GetHashAndReset());
    }

    [Fact]
    public async Task CompleteOutput_ClientHalfCloses_ServerReadsEndAndCanStillWrite()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);

        await client.Output.WriteAsync("request"u8.ToArray(), Ct);
        await client.CompleteOutputAsync();
        Assert.Equal("request"u8.ToArray(), await server.Input.ReadToEndAsync(Ct).WaitAsync(Ct));

        // The other direction stays open after the remote FIN.
        await server.Output.WriteAsync("response"u8.ToArray(), Ct);
        await server.CompleteOutputAsync();
        Assert.Equal("response"u8.ToArray(), await client.Input.ReadToEndAsync(Ct).WaitAsync(Ct));
        await WaitUntilAsync(() => pair.Client.StreamCount == 0 && pair.Server.StreamCount == 0);
    }

    [Fact]
    public async Task CompleteOutput_ServerHalfClosesFirst_ClientKeepsWriting()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);

        await server.Output.WriteAsync("banner"u8.ToArray(), Ct);
        await server.CompleteOutputAsync();
        Assert.Equal("banner"u8.ToArray(), await client.Input.ReadToEndAsync(Ct).WaitAsync(Ct));

        byte[] upload = StreamTestExtensions.Bytes(600_000, seed: 3);   // beyond one window, after the FIN
        Task write = Task.Run(async () =>
        {
            await client.Output.WriteAsync(upload, Ct);
            await client.CompleteOutputAsync();
        }, Ct);
        Assert.Equal(upload, await server.Input.ReadToEndAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct));
        await write.WaitAsync(TimeSpan.FromSeconds(20), Ct);
    }

    [Fact]
    public async Task CompleteOutput_UnflushedBytes_AreSentBeforeFin()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        "no flush"u8.CopyTo(client.Output.GetSpan(8));
        client.Output.Advance(8);
        await client.CompleteOutputAsync();
        Assert.Equal("no flush"u8.ToArray(), await server.Input.ReadToEndAsync(Ct).WaitAsync(Ct));
    }

    [Fact]
    public async Task Reset_ByClient_ServerReadAndWriteThrowAndSessionSurvives()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        (YamuxStream otherClient, YamuxStream otherServer) = await pair.OpenAsync(Ct);

        Task<ReadResult> pendingRead = server.Input.ReadAsync(Ct).AsTask();
        client.Reset();
        await Assert.ThrowsAsync<StreamResetException>(() => pendingRead.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        await Assert.ThrowsAsync<StreamResetException>(async () =>
        {
            // The RST may still be in flight for the writer; a window's worth of writes always reaches it.
            for (int i = 0; i < 100; i++)
                await server.Output.WriteAsync(new byte[64 * 1024], Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        });
        await Assert.ThrowsAsync<StreamResetException>(async () => await client.Input.ReadAsync(Ct));
        await Assert.ThrowsAsync<StreamResetException>(async () => await client.Output.WriteAsync(new byte[1], Ct));

        await otherClient.Output.WriteAsync("still here"u8.ToArray(), Ct);
        await otherClient.CompleteOutputAsync();
        Assert.Equal("still here"u8.ToArray(), await otherServer.Input.ReadToEndAsync(Ct).WaitAsync(Ct));
        await WaitUntilAsync(() => pair.Server.StreamCount == 1 && pair.Client.StreamCount == 1);
    }

    [Fact]
    public async Task Reset_WhileWriterBlockedOnWindow_WriterThrows()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        Task write = client.Output.WriteAsync(new byte[1024 * 1024], Ct).AsTask();
        await WaitUntilAsync(() => client.SendWindow == 0);
        Assert.False(write.IsCompleted);
        server.Reset();
        await Assert.ThrowsAsync<StreamResetException>(() => write.WaitAsync(TimeSpan.FromSeconds(10), Ct));
    }

    [Fact]
    public async Task WriteAsync_Canceled_CompletesWithCancellation()
    {
        await using SessionPair pair = new();
        (YamuxStream client, _) = await pair.OpenAsync(Ct);
        using CancellationTokenSource cancel = new();
        Task write = client.Output.WriteAsync(new byte[1024 * 1024], cancel.Token).AsTask();
        await WaitUntilAsync(() => client.SendWindow == 0);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write.WaitAsync(TimeSpan.FromSeconds(10), Ct));
    }

    [Fact]
    public async Task CloseAsync_SendsGoAway_PeerEndsNormallyAndRefusesNewStreams()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        await client.Output.WriteAsync("last words"u8.ToArray(), Ct);
        await client.CompleteOutputAsync();

        await pair.Client.CloseAsync(Ct);
        Assert.True(pair.Client.Closed.IsCancellationRequested);
        Assert.Null(pair.Client.Error);
        await WaitUntilAsync(() => pair.Server.Closed.IsCancellationRequested);
        Assert.Null(pair.Server.Error);

        // Queued data and FIN went out before the GoAway.
        Assert.Equal("last words"u8.ToArray(), await server.Input.ReadToEndAsync(Ct).WaitAsync(Ct));
        await Assert.ThrowsAsync<IOException>(async () => await pair.Server.OpenStreamAsync(Ct));
        await Assert.ThrowsAsync<IOException>(async () => await pair.Client.OpenStreamAsync(Ct));
        Assert.Null(await pair.Server.AcceptStreamAsync(Ct));
        Assert.Null(await pair.Client.AcceptStreamAsync(Ct));
        Assert.Equal(0, pair.Server.StreamCount);
    }

    [Fact]
    public async Task CloseAsync_OpenStreams_ReadersSeeResetNeverACleanEnd()
    {
        // Repeated: the session end races with the loops noticing it, and a reader must never
        // mistake it for a FIN.
        for (int i = 0; i < 500; i++)
        {
            await using SessionPair pair = new();
            (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
            Task<ReadResult> clientRead = client.Input.ReadAsync(Ct).AsTask();
            Task<ReadResult> serverRead = server.Input.ReadAsync(Ct).AsTask();
            await pair.Client.CloseAsync(Ct);
            await AssertResetAsync(clientRead, $"client, round {i}");
            await AssertResetAsync(serverRead, $"server, round {i}");
        }
    }

    private static async Task AssertResetAsync(Task<ReadResult> read, string what)
    {
        try
        {
            ReadResult result = await read.WaitAsync(TimeSpan.FromSeconds(10), Ct);
            Assert.Fail($"{what}: read ended without a reset (completed {result.IsCompleted}, canceled {result.IsCanceled})");
        }
        catch (StreamResetException)
        {
        }
    }

    [Fact]
    public async Task PingAsync_PeerAnswers_ReturnsRoundTrip()
    {
        await using SessionPair pair = new(time: TimeProvider.System);
        TimeSpan rtt = await pair.Client.PingAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.True(rtt >= TimeSpan.Zero);
        Assert.True(pair.Client.Rtt > TimeSpan.Zero);
        await pair.Server.PingAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
    }

    [Fact]
    public async Task OpenStream_100ConcurrentStreams_EachEchoesItsData()
    {
        await using SessionPair pair = new();
        Task server = Task.Run(async () =>
        {
            List<Task> echoes = [];
            for (int i = 0; i < 100; i++)
            {
                YamuxStream? stream = await pair.Server.AcceptStreamAsync(Ct);
                Assert.NotNull(stream);
                echoes.Add(Task.Run(async () =>
                {
                    byte[] data = await stream.Input.ReadToEndAsync(Ct);
                    await stream.Output.WriteAsync(data, Ct);
                    await stream.CompleteOutputAsync();
                }, Ct));
            }
            await Task.WhenAll(echoes);
        }, Ct);

        Task[] clients = Enumerable.Range(0, 100).Select(i => Task.Run(async () =>
        {
            YamuxStream stream = await pair.Client.OpenStreamAsync(Ct);
            byte[] data = StreamTestExtensions.Bytes(20_000 + i * 1_000, seed: i);
            Task<byte[]> echo = stream.Input.ReadToEndAsync(Ct);
            await stream.Output.WriteAsync(data, Ct);
            await stream.CompleteOutputAsync();
            Assert.Equal(data, await echo);
        }, Ct)).ToArray();

        await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await server.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await WaitUntilAsync(() => pair.Client.StreamCount == 0 && pair.Server.StreamCount == 0);
        Assert.Equal(0, pair.Client.ReservedReceiveBytes);
        Assert.Equal(0, pair.Server.ReservedReceiveBytes);
    }

    [Fact]
    public async Task Input_AdvanceExaminedWithoutConsuming_NextReadWaitsForMoreData()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        await client.Output.WriteAsync("hello"u8.ToArray(), Ct);

        ReadResult first = await server.Input.ReadAtLeastAsync(5, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(5, first.Buffer.Length);
        server.Input.AdvanceTo(first.Buffer.Start, first.Buffer.End);   // examined all, consumed nothing

        ValueTask<ReadResult> second = server.Input.ReadAsync(Ct);
        Assert.False(second.IsCompleted);
        await client.Output.WriteAsync(" world"u8.ToArray(), Ct);
        ReadResult more = await second.AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal("hello world"u8.ToArray(), more.Buffer.ToArray());
        server.Input.AdvanceTo(more.Buffer.GetPosition(6), more.Buffer.End);

        // "world" was examined: the next read waits for something new, here the FIN.
        ValueTask<ReadResult> third = server.Input.ReadAsync(Ct);
        Assert.False(third.IsCompleted);
        await client.CompleteOutputAsync();
        ReadResult rest = await third.AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal("world"u8.ToArray(), rest.Buffer.ToArray());
        Assert.True(rest.IsCompleted);
        server.Input.AdvanceTo(rest.Buffer.End);
    }

    [Fact]
    public async Task Input_AsStream_ReadsLikeAStream()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        byte[] data = StreamTestExtensions.Bytes(300_000, seed: 11);
        Task write = Task.Run(async () =>
        {
            await using Stream output = client.Output.AsStream();
            await output.WriteAsync(data, Ct);
        }, Ct);
        using MemoryStream received = new();
        await server.Input.AsStream().CopyToAsync(received, Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await write.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(data, received.ToArray());
    }

    [Fact]
    public async Task SlowReader_SpanWrites_FlushWaitsAndBufferStaysSmall()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        int flushed = 0;
        Task writer = Task.Run(async () =>
        {
            while (true)
            {
                client.Output.GetSpan(16 * 1024);
                client.Output.Advance(16 * 1024);
                await client.Output.FlushAsync(Ct);
                Interlocked.Add(ref flushed, 16 * 1024);
            }
        }, Ct);
        await WaitUntilAsync(() => client.SendWindow == 0);
        await pair.Client.PingAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        int before = Volatile.Read(ref flushed);
        await pair.Client.PingAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(before, Volatile.Read(ref flushed));   // the writer is parked in FlushAsync
        Assert.True(before <= YamuxOptions.InitialWindow + new YamuxOptions().StreamSendBuffer + 16 * 1024,
            $"{before} bytes accepted while the peer reads nothing");
        client.Reset();
        await Assert.ThrowsAsync<StreamResetException>(() => writer.WaitAsync(TimeSpan.FromSeconds(10), Ct));
    }

    [Fact]
    public async Task ConnectionEnd_PlainEof_SessionEndsAndStreamsReset()
    {
        (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
        await using YamuxSession client = new(a, true, new YamuxOptions(), new Microsoft.Extensions.Time.Testing.FakeTimeProvider(),
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        client.Start();
        YamuxStream stream = await client.OpenStreamAsync(Ct);
        Task<ReadResult> read = stream.Input.ReadAsync(Ct).AsTask();

        await b.Output.CompleteAsync();   // the remote goes away without GoAway, as go does
        await Task.Delay(Timeout.Infinite, client.Closed).ContinueWith(_ => { }, Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Null(client.Error);
        await Assert.ThrowsAsync<StreamResetException>(() => read.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Null(await client.AcceptStreamAsync(Ct));
        await b.Input.CompleteAsync();
    }

    [Fact]
    public async Task OpenStream_AfterDispose_Throws()
    {
        SessionPair pair = new();
        await pair.DisposeAsync();
        await Assert.ThrowsAsync<IOException>(async () => await pair.Client.OpenStreamAsync(Ct));
        await Assert.ThrowsAsync<IOException>(() => pair.Client.PingAsync(Ct));
    }

    [Fact]
    public async Task OutputCompletedWithError_ResetsStream()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        await client.Output.CompleteAsync(new InvalidOperationException("handler failed"));
        await Assert.ThrowsAsync<StreamResetException>(async () =>
            await server.Input.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct));
    }

    [Fact]
    public async Task InputCompletedEarly_LaterDataDiscarded_StreamStillFinishes()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        await server.Input.CompleteAsync();   // not interested in what the client sends
        await client.Output.WriteAsync(new byte[100_000], Ct);
        await client.CompleteOutputAsync();
        await server.Output.WriteAsync("bye"u8.ToArray(), Ct);
        await server.CompleteOutputAsync();
        Assert.Equal("bye"u8.ToArray(), await client.Input.ReadToEndAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct));
        await WaitUntilAsync(() => pair.Server.StreamCount == 0 && pair.Client.StreamCount == 0);
        Assert.False(pair.Server.Closed.IsCancellationRequested);
    }

    [Fact]
    public async Task CancelPendingFlush_OnWriteBlockedByWindow_ReturnsCanceledResult()
    {
        await using SessionPair pair = new();
        (YamuxStream client, _) = await pair.OpenAsync(Ct);
        ValueTask<FlushResult> write = client.Output.WriteAsync(new byte[1024 * 1024], Ct);
        await WaitUntilAsync(() => client.SendWindow == 0);
        client.Output.CancelPendingFlush();
        FlushResult result = await write.AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.True(result.IsCanceled);
    }

    [Fact]
    public async Task Dispose_WhileWriterBlockedAndPeerSilent_DoesNotHangAndWriterFails()
    {
        SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        Task write = client.Output.WriteAsync(new byte[4 * 1024 * 1024], Ct).AsTask();
        Task<ReadResult> read = client.Input.ReadAsync(Ct).AsTask();
        await WaitUntilAsync(() => client.SendWindow == 0);
        await pair.Client.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await Assert.ThrowsAsync<StreamResetException>(() => write.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        await Assert.ThrowsAsync<StreamResetException>(() => read.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        await YamuxBadPeerTests.WaitClosedAsync(pair.Server);   // the peer sees the connection end
        await Assert.ThrowsAsync<StreamResetException>(async () => await server.Input.ReadToEndAsync(Ct));
        await pair.DisposeAsync();
    }

    /// <summary>Polls a condition that another loop makes true; bounded, never a fixed sleep.</summary>
    internal static async Task WaitUntilAsync(Func<bool> condition, int timeoutMs = 10_000)
    {
        long deadline = Environment.TickCount64 + timeoutMs;
        while (!condition())
        {
            Assert.True(Environment.TickCount64 < deadline, "condition not reached in time");
            await Task.Delay(1, Ct);
        }
    }
}
