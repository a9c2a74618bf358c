using System.Buffers;
using System.IO.Pipelines;
using Echo.Net.ResourceManager;
using Echo.Net.Yamux;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Net.Tests.Yamux;

/// <summary>Two started sessions over in-memory pipes: a client (dialer) and a server (listener).</summary>
internal sealed class SessionPair : IAsyncDisposable
{
    public SessionPair(YamuxOptions? options = null, TimeProvider? time = null, PipeOptions? pipeOptions = null)
    {
        (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair(pipeOptions);
        time ??= new FakeTimeProvider();
        Client = new YamuxSession(a, isClient: true, options ?? new YamuxOptions(), time, NullLogger.Instance);
        Server = new YamuxSession(b, isClient: false, options ?? new YamuxOptions(), time, NullLogger.Instance);
        Client.Start();
        Server.Start();
    }

    public YamuxSession Client { get; }

    public YamuxSession Server { get; }

    /// <summary>Opens a stream on the client, writes nothing, and accepts it on the server.</summary>
    public async Task<(YamuxStream Client, YamuxStream Server)> OpenAsync(CancellationToken cancellationToken)
    {
        YamuxStream client = await Client.OpenStreamAsync(cancellationToken);
        YamuxStream? server = await Server.AcceptStreamAsync(cancellationToken);
        Assert.NotNull(server);
        Assert.Equal(client.Id, server.Id);
        return (client, server);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}

/// <summary>
/// A hand-driven remote: writes raw frames and reads what the session sends, so tests can play a
/// misbehaving peer byte by byte.
/// </summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private readonly IDuplexPipe _pipe;

    private RawPeer(IDuplexPipe pipe, YamuxSession session, FakeTimeProvider time)
    {
        _pipe = pipe;
        Session = session;
        Time = time;
    }

    public YamuxSession Session { get; }

    public FakeTimeProvider Time { get; }

    /// <summary>A started session facing a raw peer. The session is the client unless told otherwise.</summary>
    public static RawPeer Start(YamuxOptions? options = null, bool sessionIsClient = true, PipeOptions? pipeOptions = null,
        MemoryBudgetScope? memory = null)
    {
        (IDuplexPipe raw, IDuplexPipe local) = TestPipes.CreatePipePair(pipeOptions);
        FakeTimeProvider time = new();
        YamuxSession session = new(local, sessionIsClient, options ?? new YamuxOptions(), time, NullLogger.Instance, memory);
        session.Start();
        return new RawPeer(raw, session, time);
    }

    public PipeReader Input => _pipe.Input;

    public void Write(YamuxFrameType type, YamuxFlags flags, uint streamId, uint length, ReadOnlySpan<byte> payload = default)
    {
        YamuxFrame.Write(_pipe.Output, type, flags, streamId, length);
        if (!payload.IsEmpty)
            _pipe.Output.Write(payload);
    }

    public async Task<FlushResult> FlushAsync(CancellationToken cancellationToken) =>
        await _pipe.Output.FlushAsync(cancellationToken);

    public async Task WriteRawAsync(byte[] bytes, CancellationToken cancellationToken) =>
        await _pipe.Output.WriteAsync(bytes, cancellationToken);

    public async Task SendAsync(YamuxFrameType type, YamuxFlags flags, uint streamId, uint length,
        byte[]? payload, CancellationToken cancellationToken)
    {
        Write(type, flags, streamId, length, payload);
        await FlushAsync(cancellationToken);
    }

    /// <summary>Reads the next frame the session sent; null at the end of the connection.</summary>
    public async Task<(YamuxHeader Header, byte[] Payload)?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await _pipe.Input.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (YamuxFrame.TryReadHeader(ref buffer, out YamuxHeader header))
            {
                long payloadLength = header.Type == YamuxFrameType.Data ? header.Length : 0;
                if (buffer.Length >= payloadLength)
                {
                    byte[] payload = buffer.Slice(0, payloadLength).ToArray();
                    _pipe.Input.AdvanceTo(buffer.GetPosition(payloadLength));
                    return (header, payload);
                }
            }
            if (result.IsCompleted)
            {
                _pipe.Input.AdvanceTo(result.Buffer.End);
                return null;
            }
            _pipe.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>Reads frames until one matches; the others are returned in order through <paramref name="skipped"/>.</summary>
    public async Task<(YamuxHeader Header, byte[] Payload)> ReadUntilAsync(Func<YamuxHeader, bool> match,
        CancellationToken cancellationToken, List<YamuxHeader>? skipped = null)
    {
        while (true)
        {
            (YamuxHeader Header, byte[] Payload)? frame = await ReadFrameAsync(cancellationToken);
            Assert.True(frame.HasValue, "the session closed the connection before the expected frame");
            if (match(frame.Value.Header))
                return frame.Value;
            skipped?.Add(frame.Value.Header);
        }
    }

    /// <summary>Answers the session's start-up ping so it has an RTT; returns once answered.</summary>
    public async Task AnswerFirstPingAsync(CancellationToken cancellationToken)
    {
        (YamuxHeader ping, _) = await ReadUntilAsync(h => h.Type == YamuxFrameType.Ping, cancellationToken);
        Assert.Equal(YamuxFlags.Syn, ping.Flags);
        await SendAsync(YamuxFrameType.Ping, YamuxFlags.Ack, 0, ping.Length, null, cancellationToken);
    }

    private uint _syncValue = 0x5f000000;

    /// <summary>
    /// Returns once the session has handled everything sent so far: our ping is answered only after
    /// the frames before it (the session reads in order).
    /// </summary>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        uint value = ++_syncValue;
        await SendAsync(YamuxFrameType.Ping, YamuxFlags.Syn, 0, value, null, cancellationToken);
        await ReadUntilAsync(h => h is { Type: YamuxFrameType.Ping, Flags: YamuxFlags.Ack } && h.Length == value, cancellationToken);
    }

    public async Task CompleteOutputAsync() => await _pipe.Output.CompleteAsync();

    public async ValueTask DisposeAsync()
    {
        await Session.DisposeAsync();
        await _pipe.Output.CompleteAsync();
        await _pipe.Input.CompleteAsync();
    }
}

internal static class StreamTestExtensions
{
    /// <summary>Reads a stream to its end (FIN).</summary>
    public static async Task<byte[]> ReadToEndAsync(this PipeReader reader, CancellationToken cancellationToken)
    {
        using MemoryStream all = new();
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                all.Write(segment.Span);
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                return all.ToArray();
        }
    }

    public static byte[] Bytes(int length, int seed = 1)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
