// The read side of a yamux session: reads the connection, cuts it into frames and hands each one to
// the session as a typed call (IYamuxFrameHandler). It owns the framing state alone: the header parse
// (YamuxFrame, which bounds a Data length before anything is buffered), the cursor into the current
// Data frame's payload, and which stream's inbound pipe still needs a flush. It knows nothing of
// stream states, windows or the stream table; the session decides, the reader copies.

using System.Buffers;
using System.IO.Pipelines;

namespace Echo.Net.Yamux;

/// <summary>Where the frame reader copies a Data frame's payload: a stream's inbound pipe.</summary>
internal interface IYamuxInboundSink
{
    /// <summary>Copies payload bytes in; the application sees them after <see cref="FlushInbound"/>.</summary>
    void WriteInbound(in ReadOnlySequence<byte> payload);

    /// <summary>Makes the copied bytes visible to the application; never waits.</summary>
    void FlushInbound();
}

/// <summary>
/// What the session made of a Data header: whether the payload is copied into <see cref="Stream"/> or
/// drained, and whether the stream ends (remote FIN) once the last payload byte is read.
/// </summary>
internal readonly struct YamuxDataRoute
{
    private YamuxDataRoute(IYamuxInboundSink stream, bool deliver, bool endsStream)
    {
        Stream = stream;
        Deliver = deliver;
        EndsStream = endsStream;
    }

    /// <summary>Drain the payload and nothing else (unknown, refused or reset stream).</summary>
    public static YamuxDataRoute Drain => default;

    /// <summary>The stream the frame is for; null when <see cref="Drain"/>.</summary>
    public IYamuxInboundSink? Stream { get; }

    /// <summary>True: the payload is copied into <see cref="Stream"/>; false: drained.</summary>
    public bool Deliver { get; }

    /// <summary>True: <see cref="IYamuxFrameHandler.OnRemoteFin"/> follows the payload.</summary>
    public bool EndsStream { get; }

    /// <summary>Copy the payload into <paramref name="stream"/>, then apply its FIN if <paramref name="endsStream"/>.</summary>
    public static YamuxDataRoute Into(IYamuxInboundSink stream, bool endsStream) => new(stream, deliver: true, endsStream);

    /// <summary>Drain the payload (the stream no longer reads), then apply its FIN if <paramref name="endsStream"/>.</summary>
    public static YamuxDataRoute Discard(IYamuxInboundSink stream, bool endsStream) => new(stream, deliver: false, endsStream);
}

/// <summary>
/// The session as the frame reader sees it: one call per frame type, all on the read loop. A call may
/// throw <see cref="YamuxProtocolException"/>; the reader lets it out of <see cref="YamuxFrameReader.RunAsync"/>.
/// </summary>
internal interface IYamuxFrameHandler
{
    /// <summary>True once the session ended: the reader decodes no further header.</summary>
    bool IsEnded { get; }

    /// <summary>Checked after every frame: true makes the reader stop and wait in <see cref="WhenReadingMayResumeAsync"/>.</summary>
    bool PauseReading { get; }

    /// <summary>Completes when the reader may read again (or the session ended).</summary>
    ValueTask WhenReadingMayResumeAsync();

    /// <summary>A Data header, before its payload (also called for an empty one).</summary>
    YamuxDataRoute OnData(in YamuxHeader header);

    /// <summary>The payload of a Data frame whose route ends its stream was read in full.</summary>
    void OnRemoteFin(IYamuxInboundSink stream);

    /// <summary>A WindowUpdate frame.</summary>
    void OnWindowUpdate(in YamuxHeader header);

    /// <summary>A Ping frame.</summary>
    void OnPing(in YamuxHeader header);

    /// <summary>A GoAway frame.</summary>
    void OnGoAway(in YamuxHeader header);
}

/// <summary>Turns a connection's bytes into calls on an <see cref="IYamuxFrameHandler"/>; one instance per session, used by its read loop only.</summary>
internal sealed class YamuxFrameReader(IYamuxFrameHandler handler)
{
    // Payload bytes of the current Data frame still to come, and what the session said to do with them.
    private long _remaining;
    private YamuxDataRoute _route;

    // The stream that got payload since its last flush: one flush per read from the connection, not per frame.
    private IYamuxInboundSink? _unflushed;

    /// <summary>True while part of a Data frame's payload is still to come.</summary>
    public bool InPayload => _remaining > 0;

    /// <summary>
    /// Reads <paramref name="input"/> until the connection ends or <see cref="IYamuxFrameHandler.IsEnded"/>.
    /// Returns null when the connection ended between frames or the session ended; otherwise why the
    /// connection failed: what the layer below threw, or <see cref="UnexpectedEndException"/> when it
    /// ended inside a frame. A malformed header or a handler's <see cref="YamuxProtocolException"/> is
    /// thrown. Leaves <paramref name="input"/> uncompleted: the session completes it after its last write.
    /// </summary>
    public async Task<Exception?> RunAsync(PipeReader input)
    {
        while (!handler.IsEnded)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                return ex;   // the connection (or the layer below) failed
            }
            if (handler.IsEnded)
                break;
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool paused = Process(ref buffer);
            Flush();
            input.AdvanceTo(buffer.Start, paused ? buffer.Start : result.Buffer.End);
            if (paused)
            {
                // A peer opening streams faster than it reads our RSTs: stop reading from it until
                // the session has room again (or gives up on it).
                await handler.WhenReadingMayResumeAsync().ConfigureAwait(false);
                continue;
            }
            if (result.IsCompleted)
                return buffer.IsEmpty && _remaining == 0 ? null : new UnexpectedEndException(YamuxOptions.ProtocolId);
        }
        return null;
    }

    /// <summary>
    /// Handles every complete frame at the front of <paramref name="buffer"/> and the part of a payload
    /// that is there, and slices off what it used (an incomplete header stays). True: stop reading
    /// (<see cref="IYamuxFrameHandler.PauseReading"/>). Copied bytes become visible at <see cref="Flush"/>.
    /// </summary>
    public bool Process(ref ReadOnlySequence<byte> buffer)
    {
        while (true)
        {
            if (_remaining > 0)
            {
                if (buffer.IsEmpty)
                    return false;
                long n = Math.Min(buffer.Length, _remaining);
                if (_route.Deliver)
                {
                    IYamuxInboundSink target = _route.Stream!;
                    if (_unflushed != target)
                    {
                        _unflushed?.FlushInbound();
                        _unflushed = target;
                    }
                    target.WriteInbound(buffer.Slice(0, n));
                }
                buffer = buffer.Slice(n);
                _remaining -= n;
                if (_remaining > 0)
                    return false;
                EndPayload();
                continue;
            }
            if (handler.IsEnded || !YamuxFrame.TryReadHeader(ref buffer, out YamuxHeader header))
                return false;
            switch (header.Type)
            {
                case YamuxFrameType.Data:
                    _route = handler.OnData(header);
                    _remaining = header.Length;
                    if (_remaining == 0)
                        EndPayload();
                    break;
                case YamuxFrameType.WindowUpdate:
                    handler.OnWindowUpdate(header);
                    break;
                case YamuxFrameType.Ping:
                    handler.OnPing(header);
                    break;
                case YamuxFrameType.GoAway:
                    handler.OnGoAway(header);
                    break;
            }
            if (handler.PauseReading)
                return true;
        }
    }

    /// <summary>Makes the payload copied since the last flush visible to its stream's reader.</summary>
    public void Flush()
    {
        _unflushed?.FlushInbound();
        _unflushed = null;
    }

    private void EndPayload()
    {
        YamuxDataRoute route = _route;
        _route = default;
        if (route.EndsStream)
            handler.OnRemoteFin(route.Stream!);
    }
}
