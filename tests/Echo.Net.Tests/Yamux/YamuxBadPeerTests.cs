using System.Buffers;
using System.IO.Pipelines;
using Echo.Net.Yamux;

namespace Echo.Net.Tests.Yamux;

/// <summary>
/// A session facing a hand-driven remote (RawPeer) that sends crafted frames: rules
/// M-1 to M-5 of docs/LIMITS.md and the interop rules of the yamux spec and go-yamux. The session is the client (odd ids) unless
/// told otherwise, so the raw peer opens even ids.
/// </summary>
public class YamuxBadPeerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Ping_Request_AnsweredWithExactlyAckAndSameValue()
    {
        await using RawPeer peer = RawPeer.Start();
        await peer.SendAsync(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 0xdeadbeef, null, Ct);
        (YamuxHeader pong, _) = await peer.ReadUntilAsync(
            h => h.Type == YamuxFrameType.Ping && h.Flags == YamuxFlags.Ack, Ct).WaitAsync(Bound, Ct);
        Assert.Equal(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Ack, 0, 0xdeadbeef), pong);
    }

    [Fact]
    public async Task Start_SendsPingWithExactlySyn()
    {
        await using RawPeer peer = RawPeer.Start();
        (YamuxHeader ping, _) = await peer.ReadFrameAsync(Ct).WaitAsync(Bound, Ct) ?? throw new InvalidOperationException();
        Assert.Equal(YamuxFrameType.Ping, ping.Type);
        Assert.Equal(YamuxFlags.Syn, ping.Flags);
        Assert.Equal(0u, ping.StreamId);
    }

    [Fact]
    public async Task KeepAlive_PingUnanswered_SessionClosesWithTimeout()
    {
        await using RawPeer peer = RawPeer.Start();
        await peer.ReadUntilAsync(h => h.Type == YamuxFrameType.Ping, Ct).WaitAsync(Bound, Ct);
        peer.Time.Advance(new YamuxOptions().PingTimeout - TimeSpan.FromMilliseconds(1));
        Assert.False(peer.Session.Closed.IsCancellationRequested);
        peer.Time.Advance(TimeSpan.FromMilliseconds(1));
        await WaitClosedAsync(peer.Session);
        Assert.IsType<TimeoutException>(peer.Session.Error);
    }

    [Fact]
    public async Task KeepAlive_EveryInterval_SendsPingAndSurvivesWhenAnswered()
    {
        YamuxOptions options = new() { KeepAliveInterval = TimeSpan.FromSeconds(30) };
        await using RawPeer peer = RawPeer.Start(options);
        await peer.AnswerFirstPingAsync(Ct).WaitAsync(Bound, Ct);
        await peer.SyncAsync(Ct).WaitAsync(Bound, Ct);
        for (int i = 0; i < 3; i++)
        {
            peer.Time.Advance(TimeSpan.FromSeconds(30));
            await peer.AnswerFirstPingAsync(Ct).WaitAsync(Bound, Ct);
            await peer.SyncAsync(Ct).WaitAsync(Bound, Ct);   // the answer is handled before time moves on
            peer.Time.Advance(TimeSpan.FromSeconds(9));
        }
        // A round trip through the session proves every answer was taken.
        Task<TimeSpan> ping = peer.Session.PingAsync(Ct);
        await peer.AnswerFirstPingAsync(Ct).WaitAsync(Bound, Ct);
        await ping.WaitAsync(Bound, Ct);
        Assert.False(peer.Session.Closed.IsCancellationRequested);
    }

    [Fact]
    public async Task KeepAlive_Disabled_NoPingAfterStart()
    {
        await using RawPeer peer = RawPeer.Start(new YamuxOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan });
        await peer.AnswerFirstPingAsync(Ct).WaitAsync(Bound, Ct);   // the RTT ping still happens
        await peer.SyncAsync(Ct).WaitAsync(Bound, Ct);
        peer.Time.Advance(TimeSpan.FromMinutes(10));
        await peer.SendAsync(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 7, null, Ct);
        (YamuxHeader next, _) = await peer.ReadFrameAsync(Ct).WaitAsync(Bound, Ct) ?? throw new InvalidOperationException();
        Assert.Equal(new YamuxHeader(YamuxFrameType.Ping, YamuxFlags.Ack, 0, 7), next);
        Assert.False(peer.Session.Closed.IsCancellationRequested);
    }

    [Fact]
    public async Task Syn_WithOurOwnParity_ProtocolErrorAndGoAway()
    {
        await using RawPeer peer = RawPeer.Start();   // session is the client: odd ids are ours
        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 3, 0, null, Ct);
        await ExpectGoAwayAsync(peer, YamuxGoAwayCode.ProtocolError);
        Assert.IsType<YamuxProtocolException>(peer.Session.Error);
    }

    [Fact]
    public async Task Syn_ServerSessionGetsEvenId_ProtocolError()
    {
        await using RawPeer peer = RawPeer.Start(sessionIsClient: false);
        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 2, 0, null, Ct);
        await ExpectGoAwayAsync(peer, YamuxGoAwayCode.ProtocolError);
    }

    [Fact]
    public async Task StreamFrame_OnStreamZero_ProtocolError()
    {
        await using RawPeer peer = RawPeer.Start();
        await peer.SendAsync(YamuxFrameType.Data, YamuxFlags.None, 0, 1, [0x42], Ct);
        await ExpectGoAwayAsync(peer, YamuxGoAwayCode.ProtocolError);
    }

    [Fact]
    public async Task Header_BadVersion_ProtocolError()
    {
        await using RawPeer peer = RawPeer.Start();
        await peer.WriteRawAsync(Convert.FromHexString("010200010000000000000000"), Ct);
        await ExpectGoAwayAsync(peer, YamuxGoAwayCode.ProtocolError);
    }

    [Fact]
    public async Task Frames_ForUnknownStreams_IgnoredAndDataDrained()
    {
        await using RawPeer peer = RawPeer.Start();
        byte[] junk = StreamTestExtensions.Bytes(100_000);
        peer.Write(YamuxFrameType.Data, YamuxFlags.None, 98, (uint)junk.Length, junk);   // never opened
        peer.Write(YamuxFrameType.Data, YamuxFlags.Fin, 7, 3, [1, 2, 3]);              // ours, never opened
        peer.Write(YamuxFrameType.WindowUpdate, YamuxFlags.None, 76, 1000);
        peer.Write(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, 54, 0);
        peer.Write(YamuxFrameType.Data, YamuxFlags.Ack | YamuxFlags.Fin, 1001, 0);
        peer.Write(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 99);
        await peer.FlushAsync(Ct);
        await peer.ReadUntilAsync(h => h is { Type: YamuxFrameType.Ping, Flags: YamuxFlags.Ack, Length: 99 }, Ct).WaitAsync(Bound, Ct);
        Assert.False(peer.Session.Closed.IsCancellationRequested);
        Assert.Equal(0, peer.Session.StreamCount);
        Assert.Equal(0, peer.Session.ReservedReceiveBytes);
    }

    [Fact]
    public async Task Frames_AfterLocalReset_IgnoredNotFatal()
    {
        await using RawPeer peer = RawPeer.Start();
        YamuxStream stream = await peer.Session.OpenStreamAsync(Ct);
        await peer.ReadUntilAsync(h => h.StreamId == stream.Id && h.Has(YamuxFlags.Syn), Ct).WaitAsync(Bound, Ct);
        stream.Reset();
        await peer.ReadUntilAsync(h => h.StreamId == stream.Id && h.Has(YamuxFlags.Rst), Ct).WaitAsync(Bound, Ct);
        // A late reply crossing our RST: data within the old window, FIN, window update.
        peer.Write(YamuxFrameType.Data, YamuxFlags.Ack, stream.Id, 1000, new byte[1000]);
        peer.Write(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, stream.Id, 5000);
        peer.Write(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 1);
        await peer.FlushAsync(Ct);
        await peer.ReadUntilAsync(h => h is { Type: YamuxFrameType.Ping, Flags: YamuxFlags.Ack, Length: 1 }, Ct).WaitAsync(Bound, Ct);
        Assert.False(peer.Session.Closed.IsCancellationRequested);
    }

    [Fact]
    public async Task RemoteGoAway_ProtocolError_SessionEndsWithItsCode()
    {
        await using RawPeer peer = RawPeer.Start();
        YamuxStream stream = await peer.Session.OpenStreamAsync(Ct);
        await peer.SendAsync(YamuxFrameType.GoAway, YamuxFlags.None, 0, (uint)YamuxGoAwayCode.ProtocolError, null, Ct);
        await WaitClosedAsync(peer.Session);
        YamuxGoAwayException error = Assert.IsType<YamuxGoAwayException>(peer.Session.Error);
        Assert.Equal(1u, error.Code);
        await Assert.ThrowsAsync<StreamResetException>(async () => await stream.Input.ReadAsync(Ct));
    }

    [Fact]
    public async Task RemoteGoAway_Normal_NoNewStreamsButExistingOnesWork()
    {
        await using RawPeer peer = RawPeer.Start();
        YamuxStream stream = await peer.Session.OpenStreamAsync(Ct);
        peer.Write(YamuxFrameType.GoAway, YamuxFlags.None, 0, 0);
        peer.Write(YamuxFrameType.Data, YamuxFlags.Ack | YamuxFlags.Fin, stream.Id, 2, [9, 8]);
        await peer.FlushAsync(Ct);
        Assert.Equal(new byte[] { 9, 8 }, await stream.Input.ReadToEndAsync(Ct).WaitAsync(Bound, Ct));
        await Assert.ThrowsAsync<IOException>(async () => await peer.Session.OpenStreamAsync(Ct));
        Assert.False(peer.Session.Closed.IsCancellationRequested);
    }

    [Fact]
    public async Task OurStream_RefusedWithRst_ReadsAndWritesThrowSessionSurvives()
    {
        await using RawPeer peer = RawPeer.Start();
        YamuxStream stream = await peer.Session.OpenStreamAsync(Ct);
        await stream.Output.WriteAsync("request"u8.ToArray(), Ct);   // data may follow the SYN before any ACK
        (YamuxHeader first, byte[] payload) = await peer.ReadUntilAsync(h => h.StreamId == stream.Id && h.Type == YamuxFrameType.Data
            || h.StreamId == stream.Id && h.Has(YamuxFlags.Syn), Ct).WaitAsync(Bound, Ct);
        Assert.True(first.Has(YamuxFlags.Syn));
        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Rst, stream.Id, 0, null, Ct);
        await Assert.ThrowsAsync<StreamResetException>(async () =>
            await stream.Input.ReadAsync(Ct).AsTask().WaitAsync(Bound, Ct));
        await Assert.ThrowsAsync<StreamResetException>(async () => await stream.Output.WriteAsync(new byte[1], Ct));
        await YamuxSessionTests.WaitUntilAsync(() => peer.Session.StreamCount == 0);
        await peer.SyncAsync(Ct).WaitAsync(Bound, Ct);
        Assert.False(peer.Session.Closed.IsCancellationRequested);
    }

    [Fact]
    public async Task OurStream_DataRidesWithSyn_AckFromPeerData()
    {
        await using RawPeer peer = RawPeer.Start();
        YamuxStream stream = await peer.Session.OpenStreamAsync(Ct);
        // The peer answers with data carrying ACK and FIN in one frame (rust delays its ACK until it writes).
        await peer.SendAsync(YamuxFrameType.Data, YamuxFlags.Ack | YamuxFlags.Fin, stream.Id, 4, "pong"u8.ToArray(), Ct);
        Assert.Equal("pong"u8.ToArray(), await stream.Input.ReadToEndAsync(Ct).WaitAsync(Bound, Ct));
        await stream.CompleteOutputAsync();
        (YamuxHeader fin, _) = await peer.ReadUntilAsync(h => h.StreamId == stream.Id && h.Has(YamuxFlags.Fin), Ct).WaitAsync(Bound, Ct);
        Assert.Equal(YamuxFrameType.WindowUpdate, fin.Type);
        await YamuxSessionTests.WaitUntilAsync(() => peer.Session.StreamCount == 0);
    }

    [Fact]
    public async Task SynData_BeyondInitialWindow_ProtocolErrorBeforeBuffering()
    {
        // M-1: a stream opened with a body larger than the 256 KiB it may send without an update.
        await using RawPeer peer = RawPeer.Start();
        peer.Write(YamuxFrameType.Data, YamuxFlags.Syn, 2, YamuxOptions.InitialWindow + 1);
        await peer.FlushAsync(Ct);   // header only: the session must decide without the body
        await ExpectGoAwayAsync(peer, YamuxGoAwayCode.ProtocolError);
        Assert.Equal(0, peer.Session.StreamCount);
    }

    [Fact]
    public async Task Data_BeyondReceiveWindow_ProtocolErrorAndBufferedAtMostWindow()
    {
        // M-1: fill the window exactly, then one byte more.
        await using RawPeer peer = RawPeer.Start();
        byte[] window = new byte[YamuxOptions.InitialWindow];
        await peer.SendAsync(YamuxFrameType.Data, YamuxFlags.Syn, 2, (uint)window.Length, window, Ct);
        YamuxStream? stream = await peer.Session.AcceptStreamAsync(Ct).AsTask().WaitAsync(Bound, Ct);
        Assert.NotNull(stream);
        await peer.SendAsync(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 5, null, Ct);
        await peer.ReadUntilAsync(h => h is { Type: YamuxFrameType.Ping, Length: 5 }, Ct).WaitAsync(Bound, Ct);
        Assert.Equal(YamuxOptions.InitialWindow, peer.Session.BufferedReceiveBytes);

        await peer.SendAsync(YamuxFrameType.Data, YamuxFlags.None, 2, 1, [0], Ct);
        await ExpectGoAwayAsync(peer, YamuxGoAwayCode.ProtocolError);
        await Assert.ThrowsAsync<StreamResetException>(async () => await stream.Input.ReadAsync(Ct));
    }

    [Fact]
    public async Task WindowUpdate_PastMaxSendWindow_ProtocolError()
    {
        // M-2: a peer granting more than we accept (configured here as go/js's 16 MiB).
        await using RawPeer peer = RawPeer.Start(new YamuxOptions { MaxSendWindow = 16 * 1024 * 1024 });
        YamuxStream stream = await peer.Session.OpenStreamAsync(Ct);
        uint toMax = 16 * 1024 * 1024 - YamuxOptions.InitialWindow;
        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, stream.Id, toMax, null, Ct);
        await peer.SendAsync(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 5, null, Ct);
        await peer.ReadUntilAsync(h => h is { Type: YamuxFrameType.Ping, Length: 5 }, Ct).WaitAsync(Bound, Ct);
        Assert.Equal(16 * 1024 * 1024, stream.SendWindow);   // exactly at the limit is fine

        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.None, stream.Id, 1, null, Ct);
        await ExpectGoAwayAsync(peer, YamuxGoAwayCode.ProtocolError);
        Assert.IsType<YamuxProtocolException>(peer.Session.Error);
    }

    [Fact]
    public async Task WindowUpdate_SumPast32Bits_ProtocolErrorNeverWraps()
    {
        // M-2: deltas summing past 2^32 - 1 must not wrap to a small window.
        await using RawPeer peer = RawPeer.Start(new YamuxOptions { MaxSendWindow = uint.MaxValue });
        YamuxStream stream = await peer.Session.OpenStreamAsync(Ct);
        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, stream.Id, uint.MaxValue - YamuxOptions.InitialWindow, null, Ct);
        await peer.SendAsync(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 5, null, Ct);
        await peer.ReadUntilAsync(h => h is { Type: YamuxFrameType.Ping, Length: 5 }, Ct).WaitAsync(Bound, Ct);
        Assert.Equal(uint.MaxValue, stream.SendWindow);

        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.None, stream.Id, uint.MaxValue, null, Ct);
        await ExpectGoAwayAsync(peer, YamuxGoAwayCode.ProtocolError);
    }

    [Fact]
    public async Task StreamFlood_10000SynsThenData_BoundedAndExcessReset()
    {
        // M-3: 10,000 SYNs the application never accepts, then 256 KiB on every stream.
        await using RawPeer peer = RawPeer.Start(sessionIsClient: false);
        YamuxOptions options = new();
        const int syns = 10_000;
        HashSet<uint> reset = [];
        Task<int> reader = Task.Run(async () =>
        {
            // Drain everything the session sends, counting RSTs, until the final ping answer.
            while (true)
            {
                (YamuxHeader header, _) = await peer.ReadFrameAsync(Ct) ?? throw new InvalidOperationException("closed");
                if (header.Has(YamuxFlags.Rst))
                    reset.Add(header.StreamId);
                if (header is { Type: YamuxFrameType.Ping, Flags: YamuxFlags.Ack, Length: 4242 })
                    return reset.Count;
            }
        }, Ct);

        for (uint i = 0; i < syns; i++)
            peer.Write(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 2 * i + 1, 0);
        await peer.FlushAsync(Ct);
        byte[] body = new byte[YamuxOptions.InitialWindow];
        for (uint i = 0; i < syns; i++)
        {
            peer.Write(YamuxFrameType.Data, YamuxFlags.None, 2 * i + 1, (uint)body.Length, body);
            await peer.FlushAsync(Ct);
        }
        await peer.SendAsync(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 4242, null, Ct);
        int refused = await reader.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        int kept = peer.Session.StreamCount;
        Assert.True(kept <= options.MaxInboundStreams && kept <= options.AcceptBacklog, $"{kept} streams kept");
        Assert.Equal(options.MaxSessionReceiveBuffer / YamuxOptions.InitialWindow, kept);   // the budget binds first
        Assert.Equal(syns - kept, refused);
        Assert.True(peer.Session.ReservedReceiveBytes <= options.MaxSessionReceiveBuffer);
        Assert.True(peer.Session.BufferedReceiveBytes <= options.MaxSessionReceiveBuffer);
        Assert.Equal(kept * (long)YamuxOptions.InitialWindow, peer.Session.BufferedReceiveBytes);
        Assert.False(peer.Session.Closed.IsCancellationRequested);

        // The kept streams are real: accept one and read its bytes.
        YamuxStream? first = await peer.Session.AcceptStreamAsync(Ct).AsTask().WaitAsync(Bound, Ct);
        Assert.Equal(1u, first?.Id);
    }

    [Fact]
    public async Task StreamFlood_PeerNotReadingRsts_ReadingPausesInsteadOfQueueing()
    {
        // Refusals are bounded too: a peer that floods SYNs and never reads our RSTs stops being read.
        YamuxOptions options = new() { MaxInboundStreams = 1, MaxPendingRefusals = 16 };
        await using RawPeer peer = RawPeer.Start(options, sessionIsClient: false);
        Task flood = Task.Run(async () =>
        {
            for (uint i = 0; i < 100_000; i++)
            {
                peer.Write(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 2 * i + 1, 0);
                if (i % 100 == 99 && (await peer.FlushAsync(Ct)).IsCompleted)
                    return;   // the session stopped reading for good
            }
        }, Ct);
        // The flood stalls once our outbound pipe is full of unread RSTs and the refusal queue is full.
        await YamuxSessionTests.WaitUntilAsync(() => peer.Input.TryRead(out ReadResult r) && Peek(peer, r) >= 64 * 1024);
        Assert.False(flood.IsCompleted);
        Assert.False(peer.Session.Closed.IsCancellationRequested);
        Assert.Equal(1, peer.Session.StreamCount);
        await peer.Session.DisposeAsync();
        await flood.WaitAsync(Bound, Ct);   // released by the session ending, not by queueing more
    }

    [Fact]
    public async Task PingFlood_10000PingsNotRead_PongQueueBounded()
    {
        // M-4: the peer sends 10,000 pings and reads nothing until the end.
        await using RawPeer peer = RawPeer.Start();
        await peer.AnswerFirstPingAsync(Ct).WaitAsync(Bound, Ct);
        const int pings = 10_000;
        for (uint i = 0; i < pings; i++)
            peer.Write(YamuxFrameType.Ping, YamuxFlags.Syn, 0, i);
        peer.Write(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 2, 0);   // marker: all pings were handled
        await peer.FlushAsync(Ct);
        YamuxStream? marker = await peer.Session.AcceptStreamAsync(Ct).AsTask().WaitAsync(Bound, Ct);
        Assert.NotNull(marker);
        Assert.True(peer.Session.PongHighWater <= new YamuxOptions().MaxPendingPongs);

        // Our own ping is written after every queued answer, so it marks the end of them.
        Task<TimeSpan> ping = peer.Session.PingAsync(Ct);
        List<YamuxHeader> frames = [];
        (YamuxHeader ours, _) = await peer.ReadUntilAsync(h => h is { Type: YamuxFrameType.Ping, Flags: YamuxFlags.Syn }, Ct, frames)
            .WaitAsync(Bound, Ct);
        int pongs = frames.Count(h => h is { Type: YamuxFrameType.Ping, Flags: YamuxFlags.Ack });
        Assert.True(pongs < pings, $"{pongs} answers: the backlog did not bound them");
        Assert.True(pongs > 0);
        await peer.SendAsync(YamuxFrameType.Ping, YamuxFlags.Ack, 0, ours.Length, null, Ct);
        await ping.WaitAsync(Bound, Ct);
        Assert.False(peer.Session.Closed.IsCancellationRequested);
    }

    [Fact]
    public async Task OpenStream_256Unacknowledged_NextOpenWaitsForAnAck()
    {
        // Spec ACK backlog: at most 256 of our streams unacknowledged.
        YamuxOptions options = new() { MaxSessionReceiveBuffer = 1024L * 1024 * 1024 };
        await using RawPeer peer = RawPeer.Start(options);
        List<YamuxStream> opened = [];
        for (int i = 0; i < options.MaxUnacknowledgedStreams; i++)
            opened.Add(await peer.Session.OpenStreamAsync(Ct).AsTask().WaitAsync(Bound, Ct));
        ValueTask<YamuxStream> next = peer.Session.OpenStreamAsync(Ct);
        Assert.False(next.IsCompleted);

        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, opened[0].Id, 0, null, Ct);
        YamuxStream stream = await next.AsTask().WaitAsync(Bound, Ct);
        Assert.Equal(opened[^1].Id + 2, stream.Id);
    }

    [Fact]
    public async Task OpenStream_BudgetUsedUp_WaitsUntilAStreamCloses()
    {
        YamuxOptions options = new() { MaxSessionReceiveBuffer = 2 * YamuxOptions.InitialWindow };
        await using RawPeer peer = RawPeer.Start(options);
        YamuxStream first = await peer.Session.OpenStreamAsync(Ct);
        await peer.Session.OpenStreamAsync(Ct);
        ValueTask<YamuxStream> third = peer.Session.OpenStreamAsync(Ct);
        Assert.False(third.IsCompleted);
        first.Reset();
        await third.AsTask().WaitAsync(Bound, Ct);
    }

    [Fact]
    public async Task Receive_ManySmallFrames_WindowUpdateOncePerHalfWindow()
    {
        // js sends small frames; we must not answer each with a window update.
        await using RawPeer peer = RawPeer.Start(new YamuxOptions { MaxReceiveWindow = YamuxOptions.InitialWindow });
        await peer.AnswerFirstPingAsync(Ct).WaitAsync(Bound, Ct);
        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 2, 0, null, Ct);
        YamuxStream? stream = await peer.Session.AcceptStreamAsync(Ct).AsTask().WaitAsync(Bound, Ct);
        Assert.NotNull(stream);

        const int frames = 1024;   // 1 MiB in 1 KiB frames, within the window as it is granted back
        byte[] payload = new byte[1024];
        List<YamuxHeader> updates = [];
        Task reader = Task.Run(async () =>
        {
            // Consume 1 KiB at a time, like a parser taking one small message per read.
            long read = 0;
            while (read < frames * payload.Length)
            {
                ReadResult result = await stream.Input.ReadAsync(Ct);
                long n = Math.Min(result.Buffer.Length, payload.Length);
                read += n;
                stream.Input.AdvanceTo(result.Buffer.GetPosition(n));
            }
        }, Ct);
        long granted = YamuxOptions.InitialWindow;
        long sent = 0;
        while (sent < frames * payload.Length)
        {
            while (sent < granted && sent < frames * payload.Length)
            {
                peer.Write(YamuxFrameType.Data, YamuxFlags.None, 2, (uint)payload.Length, payload);
                sent += payload.Length;
            }
            await peer.FlushAsync(Ct);
            if (sent >= frames * payload.Length)
                break;
            (YamuxHeader update, _) = await peer.ReadUntilAsync(h => h.StreamId == 2 && h.Length > 0, Ct).WaitAsync(Bound, Ct);
            Assert.Equal(YamuxFrameType.WindowUpdate, update.Type);
            updates.Add(update);
            granted += update.Length;
        }
        await reader.WaitAsync(Bound, Ct);
        Assert.All(updates, u => Assert.True(u.Length >= YamuxOptions.InitialWindow / 2, $"update of {u.Length}"));
        Assert.InRange(updates.Count, 1, 2 * (frames * payload.Length) / YamuxOptions.InitialWindow);
    }

    [Fact]
    public async Task Receive_FastReaderWithRtt_WindowAutoTunesUpToMax()
    {
        YamuxOptions options = new() { MaxReceiveWindow = 4 * YamuxOptions.InitialWindow };
        await using RawPeer peer = RawPeer.Start(options);
        // A measured RTT and a clock that does not move: every update comes "within 4 RTT".
        Task<TimeSpan> rtt = peer.Session.PingAsync(Ct);
        (YamuxHeader ping, _) = await peer.ReadUntilAsync(h => h.Type == YamuxFrameType.Ping, Ct).WaitAsync(Bound, Ct);
        peer.Time.Advance(TimeSpan.FromMilliseconds(5));
        await peer.SendAsync(YamuxFrameType.Ping, YamuxFlags.Ack, 0, ping.Length, null, Ct);
        // The start-up ping and ours are one ping in flight: one answer serves both.
        Assert.Equal(TimeSpan.FromMilliseconds(5), await rtt.WaitAsync(Bound, Ct));

        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 2, 0, null, Ct);
        YamuxStream? stream = await peer.Session.AcceptStreamAsync(Ct).AsTask().WaitAsync(Bound, Ct);
        Assert.NotNull(stream);
        Task drain = stream.Input.ReadToEndAsync(Ct);
        long granted = YamuxOptions.InitialWindow;
        long sent = 0;
        byte[] chunk = new byte[64 * 1024];
        while (stream.ReceiveWindow < options.MaxReceiveWindow)
        {
            while (sent + chunk.Length <= granted)
            {
                peer.Write(YamuxFrameType.Data, YamuxFlags.None, 2, (uint)chunk.Length, chunk);
                sent += chunk.Length;
            }
            await peer.FlushAsync(Ct);
            (YamuxHeader update, _) = await peer.ReadUntilAsync(h => h.StreamId == 2 && h.Length > 0, Ct).WaitAsync(Bound, Ct);
            granted += update.Length;
            Assert.True(granted - sent <= options.MaxReceiveWindow);
        }
        Assert.Equal(options.MaxReceiveWindow, (long)stream.ReceiveWindow);
        Assert.Equal(options.MaxReceiveWindow, peer.Session.ReservedReceiveBytes);   // growth is reserved too
        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, 2, 0, null, Ct);
        await drain.WaitAsync(Bound, Ct);
    }

    [Fact]
    public async Task Receive_AutoTuneGrowth_CappedAtHalfTheBudgetSoNewStreamsFit()
    {
        YamuxOptions options = new() { MaxSessionReceiveBuffer = 2 * 1024 * 1024 };
        await using RawPeer peer = RawPeer.Start(options);
        Task<TimeSpan> rtt = peer.Session.PingAsync(Ct);
        await peer.AnswerFirstPingAsync(Ct).WaitAsync(Bound, Ct);
        await rtt.WaitAsync(Bound, Ct);   // zero on the test clock: every update looks fast

        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 2, 0, null, Ct);
        YamuxStream? stream = await peer.Session.AcceptStreamAsync(Ct).AsTask().WaitAsync(Bound, Ct);
        Assert.NotNull(stream);
        Task drain = stream.Input.ReadToEndAsync(Ct);
        long granted = YamuxOptions.InitialWindow;
        long sent = 0;
        byte[] chunk = new byte[64 * 1024];
        while (sent < 16 * 1024 * 1024)
        {
            while (sent + chunk.Length <= granted)
            {
                peer.Write(YamuxFrameType.Data, YamuxFlags.None, 2, (uint)chunk.Length, chunk);
                sent += chunk.Length;
            }
            await peer.FlushAsync(Ct);
            (YamuxHeader update, _) = await peer.ReadUntilAsync(h => h.StreamId == 2 && h.Length > 0, Ct).WaitAsync(Bound, Ct);
            granted += update.Length;
        }
        // 256 KiB doubled to 1 MiB uses 768 KiB of growth; 2 MiB would pass the 1 MiB growth cap.
        Assert.Equal(1024u * 1024, stream.ReceiveWindow);
        Assert.Equal(1024 * 1024, peer.Session.ReservedReceiveBytes);

        // The other half of the budget still takes four streams at their initial window.
        for (uint id = 4; id <= 10; id += 2)
            peer.Write(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, id, 0);
        peer.Write(YamuxFrameType.WindowUpdate, YamuxFlags.Syn, 12, 0);   // one too many
        await peer.FlushAsync(Ct);
        (YamuxHeader refusal, _) = await peer.ReadUntilAsync(h => h.Has(YamuxFlags.Rst), Ct).WaitAsync(Bound, Ct);
        Assert.Equal(12u, refusal.StreamId);
        Assert.Equal(5, peer.Session.StreamCount);
        await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.Fin, 2, 0, null, Ct);
        await drain.WaitAsync(Bound, Ct);
    }

    [Fact]
    public async Task Send_LargeWrite_FramesAtMost64KiBWithHeaderAndWithinWindow()
    {
        await using RawPeer peer = RawPeer.Start();
        YamuxStream stream = await peer.Session.OpenStreamAsync(Ct);
        byte[] data = StreamTestExtensions.Bytes(1024 * 1024 + 5);
        Task write = Task.Run(async () =>
        {
            await stream.Output.WriteAsync(data, Ct);
            await stream.CompleteOutputAsync();
        }, Ct);
        using MemoryStream received = new();
        long window = YamuxOptions.InitialWindow;
        bool first = true;
        while (true)
        {
            (YamuxHeader header, byte[] payload) = await peer.ReadUntilAsync(h => h.StreamId == stream.Id, Ct).WaitAsync(Bound, Ct);
            Assert.Equal(first, header.Has(YamuxFlags.Syn));   // SYN once, on the first frame
            first = false;
            if (header.Type == YamuxFrameType.Data)
            {
                Assert.True(YamuxFrame.HeaderLength + payload.Length <= 64 * 1024, $"{payload.Length}-byte payload");
                window -= payload.Length;
                Assert.True(window >= 0, "sent beyond the window");
                received.Write(payload);
                if (window == 0)
                {
                    await peer.SendAsync(YamuxFrameType.WindowUpdate, YamuxFlags.None, stream.Id, 300_000, null, Ct);
                    window += 300_000;
                }
            }
            if (header.Has(YamuxFlags.Fin))
                break;
        }
        await write.WaitAsync(Bound, Ct);
        Assert.Equal(data, received.ToArray());
    }

    [Fact]
    public async Task Eof_InsideFrame_SessionEndsWithUnexpectedEnd()
    {
        await using RawPeer peer = RawPeer.Start();
        peer.Write(YamuxFrameType.Data, YamuxFlags.Syn, 2, 10, [1, 2, 3]);
        await peer.FlushAsync(Ct);
        await peer.CompleteOutputAsync();
        await WaitClosedAsync(peer.Session);
        Assert.IsType<UnexpectedEndException>(peer.Session.Error);
    }

    [Fact]
    public async Task RandomFrames_FromPeer_SessionNeverThrowsOut()
    {
        // Garbage after a valid prefix: the session ends (or ignores it) and its loops finish cleanly.
        Random random = new(12345);
        for (int round = 0; round < 50; round++)
        {
            await using RawPeer peer = RawPeer.Start(sessionIsClient: round % 2 == 0);
            byte[] garbage = new byte[random.Next(0, 400)];
            random.NextBytes(garbage);
            for (int i = 0; i + 12 <= garbage.Length; i += 12)
            {
                garbage[i] = (byte)(random.Next(8) == 0 ? 1 : 0);          // mostly version 0
                garbage[i + 1] = (byte)random.Next(5);                      // mostly known types
                if (garbage[i + 1] == 0)
                    garbage[i + 8] = garbage[i + 9] = garbage[i + 10] = 0;  // short Data frames
            }
            await peer.WriteRawAsync(garbage, Ct);
            await peer.CompleteOutputAsync();
            await WaitClosedAsync(peer.Session);
            Assert.True(peer.Session.Error is null or ProtocolViolationException or YamuxGoAwayException,
                peer.Session.Error?.ToString());
        }
    }

    private static async Task ExpectGoAwayAsync(RawPeer peer, YamuxGoAwayCode code)
    {
        (YamuxHeader goAway, _) = await peer.ReadUntilAsync(h => h.Type == YamuxFrameType.GoAway, Ct).WaitAsync(Bound, Ct);
        Assert.Equal((uint)code, goAway.Length);
        Assert.Equal(0u, goAway.StreamId);
        await WaitClosedAsync(peer.Session);
        Assert.Null(await peer.ReadFrameAsync(Ct).WaitAsync(Bound, Ct));   // connection closed after the GoAway
    }

    internal static async Task WaitClosedAsync(YamuxSession session)
    {
        TaskCompletionSource closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        await using CancellationTokenRegistration registration = session.Closed.Register(() => closed.TrySetResult());
        await closed.Task.WaitAsync(Bound, Ct);
    }

    private static long Peek(RawPeer peer, ReadResult result)
    {
        long length = result.Buffer.Length;
        peer.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        return length;
    }
}
