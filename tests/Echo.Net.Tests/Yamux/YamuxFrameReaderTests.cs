using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Echo.Net.Yamux;

namespace Echo.Net.Tests.Yamux;

/// <summary>The frame reader alone, without a session: framing, the payload cursor, flushes, limits and how reading ends.</summary>
public class YamuxFrameReaderTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Stream 1 is delivered, stream 3 discarded (the application stopped reading), stream 5 unknown (drained).
    private static readonly byte[] Frames = Concat(
        Frame(YamuxFrameType.Data, YamuxFlags.Syn, 1, "hello"u8.ToArray()),
        Frame(YamuxFrameType.WindowUpdate, YamuxFlags.Ack, 1, 1000),
        Frame(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 7),
        Frame(YamuxFrameType.Data, YamuxFlags.Fin, 3, Bytes(20, seed: 3)),
        Frame(YamuxFrameType.Data, YamuxFlags.None, 1, []),
        Frame(YamuxFrameType.Data, YamuxFlags.None, 5, Bytes(300, seed: 5)),
        Frame(YamuxFrameType.Data, YamuxFlags.None, 1, Bytes(1000, seed: 1)),
        Frame(YamuxFrameType.Data, YamuxFlags.Fin, 1, "end"u8.ToArray()),
        Frame(YamuxFrameType.GoAway, YamuxFlags.None, 0, 0),
        Frame(YamuxFrameType.Ping, YamuxFlags.Ack, 0, 9));

    private static readonly string[] ExpectedEvents =
    [
        "data 1 Syn 5", "window 1 Ack 1000", "ping Syn 7", "data 3 Fin 20", "fin 3 after 0",
        "data 1 None 0", "data 5 None 300", "data 1 None 1000", "data 1 Fin 3", "fin 1 after 1008",
        "goaway 0", "ping Ack 9",
    ];

    private static readonly byte[] ExpectedStream1 = Concat("hello"u8.ToArray(), Bytes(1000, seed: 1), "end"u8.ToArray());

    [Fact]
    public void Process_WholeSequence_DispatchesEveryFrameAndCopiesOnlyDeliveredPayload()
    {
        RecordingHandler handler = new();
        YamuxFrameReader reader = new(handler);
        ReadOnlySequence<byte> buffer = new(Frames);

        Assert.False(reader.Process(ref buffer));
        reader.Flush();

        Assert.True(buffer.IsEmpty);
        Assert.False(reader.InPayload);
        Assert.Equal(ExpectedEvents, handler.Events);
        Assert.Equal(ExpectedStream1, handler.Sink(1).Visible);
        Assert.Empty(handler.Sink(3).Written);
    }

    [Fact]
    public void Process_SplitAtEveryPosition_SameFramesAndPayload()
    {
        for (int split = 0; split <= Frames.Length; split++)
        {
            RecordingHandler handler = new();
            YamuxFrameReader reader = new(handler);
            ReadOnlySequence<byte> buffer = new(Frames.AsMemory(0, split));
            Assert.False(reader.Process(ref buffer));
            reader.Flush();
            // What a pipe hands back: the unread rest of the first read, then the new bytes, in two segments.
            buffer = Append(buffer, Frames.AsMemory(split));
            Assert.False(reader.Process(ref buffer));
            reader.Flush();

            Assert.True(buffer.IsEmpty, $"split at {split}");
            Assert.Equal(ExpectedEvents, handler.Events);
            Assert.Equal(ExpectedStream1, handler.Sink(1).Visible);
            Assert.Empty(handler.Sink(3).Written);
        }
    }

    [Fact]
    public void Process_OneByteAtATime_SameFramesAndPayload()
    {
        RecordingHandler handler = new();
        YamuxFrameReader reader = new(handler);
        ReadOnlySequence<byte> buffer = ReadOnlySequence<byte>.Empty;
        for (int i = 0; i < Frames.Length; i++)
        {
            buffer = Append(buffer, Frames.AsMemory(i, 1));
            Assert.False(reader.Process(ref buffer));
            reader.Flush();
            Assert.True(buffer.Length < YamuxFrame.HeaderLength);   // only an incomplete header is left behind
        }

        Assert.True(buffer.IsEmpty);
        Assert.Equal(ExpectedEvents, handler.Events);
        Assert.Equal(ExpectedStream1, handler.Sink(1).Visible);
    }

    [Fact]
    public void Process_PayloadForTwoStreams_EachFlushedOnceAndBeforeTheNextStreamGetsBytes()
    {
        RecordingHandler handler = new();
        YamuxFrameReader reader = new(handler);
        ReadOnlySequence<byte> buffer = new(Concat(
            Frame(YamuxFrameType.Data, YamuxFlags.None, 1, Bytes(10, seed: 1)),
            Frame(YamuxFrameType.Data, YamuxFlags.None, 1, Bytes(10, seed: 2)),
            Frame(YamuxFrameType.Data, YamuxFlags.None, 7, Bytes(10, seed: 7))));

        reader.Process(ref buffer);
        Assert.Equal(["write 1", "write 1", "flush 1", "write 7"], handler.SinkCalls);
        reader.Flush();
        Assert.Equal(["write 1", "write 1", "flush 1", "write 7", "flush 7"], handler.SinkCalls);
        reader.Flush();   // nothing new: no second flush
        Assert.Equal(5, handler.SinkCalls.Count);
    }

    [Fact]
    public void Process_PayloadIncomplete_FinWaitsForItsLastByte()
    {
        RecordingHandler handler = new();
        YamuxFrameReader reader = new(handler);
        byte[] frame = Frame(YamuxFrameType.Data, YamuxFlags.Fin, 1, Bytes(100, seed: 1));
        ReadOnlySequence<byte> buffer = new(frame.AsMemory(0, frame.Length - 1));

        reader.Process(ref buffer);
        Assert.True(buffer.IsEmpty);
        Assert.True(reader.InPayload);
        Assert.Equal(["data 1 Fin 100"], handler.Events);

        buffer = new(frame.AsMemory(frame.Length - 1));
        reader.Process(ref buffer);
        Assert.False(reader.InPayload);
        Assert.Equal(["data 1 Fin 100", "fin 1 after 100"], handler.Events);
    }

    [Theory]   // the cases of YamuxFrameTests.Parse_Malformed_ThrowsProtocolViolation
    [InlineData("010000000000000100000000")]   // version 1
    [InlineData("ff0100000000000100000000")]   // version 255
    [InlineData("000400000000000100000000")]   // type 4
    [InlineData("00ff00000000000000000000")]   // type 255
    [InlineData("000000000000000101000001")]   // Data longer than 16 MiB
    [InlineData("0000000000000001ffffffff")]   // Data of 4 GiB
    public void Process_MalformedHeader_SameErrorAsTheCodecAndNothingDispatched(string hex)
    {
        byte[] header = Convert.FromHexString(hex);
        string expected = Assert.Throws<YamuxProtocolException>(() => YamuxFrame.Parse(header)).Message;
        for (int split = 0; split < header.Length; split++)   // split 0: the whole header in one read
        {
            RecordingHandler handler = new();
            YamuxFrameReader reader = new(handler);
            ReadOnlySequence<byte> buffer = new(Concat(Frame(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 1), header.AsSpan(0, split).ToArray()));
            reader.Process(ref buffer);
            buffer = Append(buffer, header.AsMemory(split));

            YamuxProtocolException error = Assert.Throws<YamuxProtocolException>(() => reader.Process(ref buffer));
            Assert.Equal(expected, error.Message);
            Assert.Equal(YamuxGoAwayCode.ProtocolError, error.Code);
            Assert.Equal(["ping Syn 1"], handler.Events);
            Assert.False(reader.InPayload);
        }
    }

    [Fact]
    public void Process_DataAtTheLengthLimit_AcceptedAndAwaitsItsPayload()
    {
        RecordingHandler handler = new();
        YamuxFrameReader reader = new(handler);
        ReadOnlySequence<byte> buffer = new(Frame(YamuxFrameType.Data, YamuxFlags.None, 5, YamuxFrame.MaxDataLength));

        reader.Process(ref buffer);

        Assert.Equal([$"data 5 None {YamuxFrame.MaxDataLength}"], handler.Events);
        Assert.True(reader.InPayload);
    }

    [Fact]
    public void Process_HandlerRejectsFrame_ErrorComesOutAndNothingAfterIt()
    {
        RecordingHandler handler = new() { Reject = 3 };
        YamuxFrameReader reader = new(handler);
        ReadOnlySequence<byte> buffer = new(Frames);

        YamuxProtocolException error = Assert.Throws<YamuxProtocolException>(() => reader.Process(ref buffer));

        Assert.Equal("/yamux/1.0.0: stream 3 rejected", error.Message);
        Assert.Equal(["data 1 Syn 5", "window 1 Ack 1000", "ping Syn 7", "data 3 Fin 20"], handler.Events);
    }

    [Fact]
    public void Process_SessionEnded_DecodesNoFurtherHeader()
    {
        RecordingHandler handler = new() { EndOnGoAway = true };
        YamuxFrameReader reader = new(handler);
        ReadOnlySequence<byte> buffer = new(Frames);

        reader.Process(ref buffer);

        Assert.Equal(ExpectedEvents[..^1], handler.Events);   // the ping after GoAway is left unread
        Assert.Equal(YamuxFrame.HeaderLength, buffer.Length);
    }

    [Fact]
    public async Task RunAsync_ChunkedWrites_SameFramesAndCleanEnd()
    {
        RecordingHandler handler = new();
        YamuxFrameReader reader = new(handler);
        Pipe pipe = new();
        Task<Exception?> run = reader.RunAsync(pipe.Reader);
        for (int offset = 0; offset < Frames.Length; offset += 7)
            await pipe.Writer.WriteAsync(Frames.AsMemory(offset, Math.Min(7, Frames.Length - offset)), Ct);
        await pipe.Writer.CompleteAsync();

        Assert.Null(await run.WaitAsync(Timeout, Ct));
        Assert.Equal(ExpectedEvents, handler.Events);
        Assert.Equal(ExpectedStream1, handler.Sink(1).Visible);
        await pipe.Reader.CompleteAsync();
    }

    [Theory]
    [InlineData(5)]    // inside a header
    [InlineData(15)]   // inside a payload
    public async Task RunAsync_EndInsideAFrame_ReturnsUnexpectedEnd(int length)
    {
        RecordingHandler handler = new();
        YamuxFrameReader reader = new(handler);
        Pipe pipe = new();
        await pipe.Writer.WriteAsync(Frames.AsMemory(0, length), Ct);
        await pipe.Writer.CompleteAsync();

        Exception? error = await reader.RunAsync(pipe.Reader).WaitAsync(Timeout, Ct);

        Assert.IsType<UnexpectedEndException>(error);
        string[] expected = length < YamuxFrame.HeaderLength ? [] : ["data 1 Syn 5"];
        Assert.Equal(expected, handler.Events);
        await pipe.Reader.CompleteAsync();
    }

    [Fact]
    public async Task RunAsync_ConnectionFails_ReturnsItsError()
    {
        RecordingHandler handler = new();
        YamuxFrameReader reader = new(handler);
        Pipe pipe = new();
        IOException failure = new("connection reset");
        await pipe.Writer.WriteAsync(Frame(YamuxFrameType.Ping, YamuxFlags.Syn, 0, 1), Ct);
        await pipe.Writer.CompleteAsync(failure);

        Exception? error = await reader.RunAsync(pipe.Reader).WaitAsync(Timeout, Ct);

        Assert.Same(failure, error);
        await pipe.Reader.CompleteAsync();
    }

    [Fact]
    public async Task RunAsync_MalformedHeader_Throws()
    {
        YamuxFrameReader reader = new(new RecordingHandler());
        Pipe pipe = new();
        await pipe.Writer.WriteAsync(Convert.FromHexString("010000000000000100000000"), Ct);

        YamuxProtocolException error = await Assert.ThrowsAsync<YamuxProtocolException>(() => reader.RunAsync(pipe.Reader).WaitAsync(Timeout, Ct));

        Assert.Equal("/yamux/1.0.0: unsupported version 1", error.Message);
        await pipe.Reader.CompleteAsync();
        await pipe.Writer.CompleteAsync();
    }

    [Fact]
    public async Task RunAsync_HandlerPauses_NothingMoreIsReadUntilItResumes()
    {
        TaskCompletionSource waiting = new(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource resume = new(TaskCreationOptions.RunContinuationsAsynchronously);
        RecordingHandler handler = new() { PauseAfterTwoFrames = true, Waiting = waiting, Resume = resume };
        YamuxFrameReader reader = new(handler);
        Pipe pipe = new();
        await pipe.Writer.WriteAsync(Frames, Ct);
        await pipe.Writer.CompleteAsync();
        Task<Exception?> run = reader.RunAsync(pipe.Reader);

        await waiting.Task.WaitAsync(Timeout, Ct);
        Assert.Equal(["data 1 Syn 5", "window 1 Ack 1000"], handler.Events);
        Assert.Equal("hello"u8.ToArray(), handler.Sink(1).Visible);   // what was copied before the pause is visible

        resume.SetResult();
        Assert.Null(await run.WaitAsync(Timeout, Ct));
        Assert.Equal(ExpectedEvents, handler.Events);
        await pipe.Reader.CompleteAsync();
    }

    [Fact]
    public async Task RunAsync_SessionEnds_StopsReading()
    {
        RecordingHandler handler = new() { EndOnGoAway = true };
        YamuxFrameReader reader = new(handler);
        Pipe pipe = new();
        await pipe.Writer.WriteAsync(Frames, Ct);   // the writer stays open: only the session's end stops the reader

        Assert.Null(await reader.RunAsync(pipe.Reader).WaitAsync(Timeout, Ct));
        Assert.Equal(ExpectedEvents[..^1], handler.Events);
        await pipe.Reader.CompleteAsync();
        await pipe.Writer.CompleteAsync();
    }

    // ------------------------------------------------------------------ helpers

    private static byte[] Frame(YamuxFrameType type, YamuxFlags flags, uint streamId, uint length)
    {
        byte[] bytes = new byte[YamuxFrame.HeaderLength];
        YamuxFrame.Write(bytes, type, flags, streamId, length);
        return bytes;
    }

    private static byte[] Frame(YamuxFrameType type, YamuxFlags flags, uint streamId, byte[] payload) =>
        Concat(Frame(type, flags, streamId, (uint)payload.Length), payload);

    private static byte[] Bytes(int length, int seed)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    /// <summary>A multi-segment sequence: the segments of <paramref name="rest"/>, then <paramref name="next"/>.</summary>
    private static ReadOnlySequence<byte> Append(ReadOnlySequence<byte> rest, ReadOnlyMemory<byte> next)
    {
        Segment? first = null;
        Segment? last = null;
        foreach (ReadOnlyMemory<byte> memory in rest)
            Add(memory);
        Add(next);
        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);

        void Add(ReadOnlyMemory<byte> memory)
        {
            if (memory.IsEmpty)
                return;
            Segment segment = new(memory, last is null ? 0 : last.RunningIndex + last.Memory.Length);
            if (last is null)
                first = segment;
            else
                last.SetNext(segment);
            last = segment;
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }

    private sealed class RecordingSink(uint id, List<string> calls) : IYamuxInboundSink
    {
        private readonly List<byte> _written = [];
        private int _visible;

        public uint Id { get; } = id;

        public byte[] Written => [.. _written];

        public byte[] Visible => [.. _written.Take(_visible)];

        public void WriteInbound(in ReadOnlySequence<byte> payload)
        {
            _written.AddRange(payload.ToArray());
            calls.Add($"write {Id}");
        }

        public void FlushInbound()
        {
            _visible = _written.Count;
            calls.Add($"flush {Id}");
        }
    }

    /// <summary>Records every call; stream 1 and 7 are delivered, 3 discarded, the rest drained.</summary>
    private sealed class RecordingHandler : IYamuxFrameHandler
    {
        private readonly Dictionary<uint, RecordingSink> _sinks = [];
        private bool _ended;
        private int _frames;

        public List<string> Events { get; } = [];

        public List<string> SinkCalls { get; } = [];

        public uint? Reject { get; init; }

        public bool EndOnGoAway { get; init; }

        public bool PauseAfterTwoFrames { get; init; }

        public TaskCompletionSource? Waiting { get; init; }

        public TaskCompletionSource? Resume { get; init; }

        public bool IsEnded => _ended;

        public bool PauseReading => PauseAfterTwoFrames && _frames == 2 && Resume?.Task.IsCompleted != true;

        public RecordingSink Sink(uint id)
        {
            if (!_sinks.TryGetValue(id, out RecordingSink? sink))
                _sinks[id] = sink = new RecordingSink(id, SinkCalls);
            return sink;
        }

        public async ValueTask WhenReadingMayResumeAsync()
        {
            Waiting?.TrySetResult();
            if (Resume is not null)
                await Resume.Task.ConfigureAwait(false);
        }

        public YamuxDataRoute OnData(in YamuxHeader header)
        {
            Record($"data {header.StreamId} {header.Flags} {header.Length}");
            if (header.StreamId == Reject)
                throw new YamuxProtocolException($"stream {header.StreamId} rejected");
            bool fin = header.Has(YamuxFlags.Fin);
            return header.StreamId switch
            {
                1 or 7 => YamuxDataRoute.Into(Sink(header.StreamId), fin),
                3 => YamuxDataRoute.Discard(Sink(3), fin),
                _ => YamuxDataRoute.Drain,
            };
        }

        public void OnRemoteFin(IYamuxInboundSink stream)
        {
            RecordingSink sink = (RecordingSink)stream;
            Events.Add($"fin {sink.Id} after {sink.Written.Length}");
        }

        public void OnWindowUpdate(in YamuxHeader header) => Record($"window {header.StreamId} {header.Flags} {header.Length}");

        public void OnPing(in YamuxHeader header) => Record($"ping {header.Flags} {header.Length}");

        public void OnGoAway(in YamuxHeader header)
        {
            Record($"goaway {header.Length}");
            _ended = EndOnGoAway;
        }

        private void Record(string text)
        {
            Events.Add(text);
            _frames++;
        }
    }
}
