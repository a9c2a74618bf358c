using System.Buffers;
using System.IO.Pipelines;

namespace Echo.Net.Yamux;

// The read loop: frames in, stream state and inbound pipes updated. It shares the session's state
// (the stream table under _lock), so it is a part of the session rather than a type of its own.
internal sealed partial class YamuxSession
{
    // read loop only
    private long _payloadRemaining;
    private YamuxStream? _payloadStream;
    private YamuxStream? _payloadFin;
    private YamuxStream? _unflushedStream;

    private async Task ReadLoopAsync()
    {
        PipeReader input = _connection.Input;
        Exception? error = null;
        YamuxGoAwayCode? goAway = null;
        try
        {
            while (!_state.IsEnded())
            {
                ReadResult result;
                try
                {
                    result = await input.ReadAsync().ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    error = ex;   // the connection (or the layer below) failed
                    break;
                }
                if (_state.IsEnded())
                    break;
                ReadOnlySequence<byte> buffer = result.Buffer;
                bool paused = ProcessFrames(ref buffer);
                FlushInbound();
                input.AdvanceTo(buffer.Start, paused ? buffer.Start : result.Buffer.End);
                if (paused)
                {
                    // A peer opening streams faster than it reads our RSTs: stop reading from it until
                    // the refusals are written (or the keep-alive gives up on it).
                    while (_sender.RefusalsFull && !_state.IsEnded())
                        await _sender.WaitForRefusalSpaceAsync().ConfigureAwait(false);
                    continue;
                }
                if (result.IsCompleted)
                {
                    if (!buffer.IsEmpty || _payloadRemaining > 0)
                        error = new UnexpectedEndException(YamuxOptions.ProtocolId);
                    break;
                }
            }
        }
        catch (YamuxProtocolException ex)
        {
            Log.ProtocolViolation(_logger, ex.Code, ex);
            error = ex;
            goAway = ex.Code;
        }
        catch (Exception ex)
        {
            Log.InternalError(_logger, ex);
            error = ex;
            goAway = YamuxGoAwayCode.InternalError;
        }
        Terminate(error, goAway);
        Exception? cause = Error;
        foreach (YamuxStream stream in _finalStreams)
        {
            // Terminate may still be failing the streams on another thread: fail the read side here
            // too (idempotent), so no reader mistakes the end of the session for a clean FIN.
            stream.OnSessionEnded(cause, read: true, write: false);
            stream.CompleteInboundWriter(stream.ReadError);
        }
        // Stop reading only after our last frame (GoAway) is out: a peer still writing to us would
        // otherwise see the connection vanish before it sees why.
        if (_sendTask is not null)
            await _sendTask.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await input.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>Handles every complete frame in <paramref name="buffer"/>; true = pause reading.</summary>
    private bool ProcessFrames(ref ReadOnlySequence<byte> buffer)
    {
        while (true)
        {
            if (_payloadRemaining > 0)
            {
                if (buffer.IsEmpty)
                    return false;
                long n = Math.Min(buffer.Length, _payloadRemaining);
                if (_payloadStream is { } target)
                {
                    if (_unflushedStream != target)
                    {
                        _unflushedStream?.FlushInbound();
                        _unflushedStream = target;
                    }
                    target.WriteInbound(buffer.Slice(0, n));
                }
                buffer = buffer.Slice(n);
                _payloadRemaining -= n;
                if (_payloadRemaining > 0)
                    return false;
                _payloadStream = null;
                if (_payloadFin is { } finished)
                {
                    _payloadFin = null;
                    ApplyRemoteFin(finished);
                }
                continue;
            }
            if (_state.IsEnded() || !YamuxFrame.TryReadHeader(ref buffer, out YamuxHeader header))
                return false;
            switch (header.Type)
            {
                case YamuxFrameType.Data:
                case YamuxFrameType.WindowUpdate:
                    HandleStreamFrame(header);
                    break;
                case YamuxFrameType.Ping:
                    HandlePing(header);
                    break;
                case YamuxFrameType.GoAway:
                    HandleGoAway(header);
                    break;
            }
            if (_sender.RefusalsFull)
                return true;
        }
    }

    private void FlushInbound()
    {
        _unflushedStream?.FlushInbound();
        _unflushedStream = null;
    }

    private void HandleStreamFrame(in YamuxHeader header)
    {
        uint id = header.StreamId;
        bool isData = header.Type == YamuxFrameType.Data;
        if (id == 0)
            throw new YamuxProtocolException($"{header.Type} frame on stream 0");
        if (isData && header.Has(YamuxFlags.Syn) && header.Length > YamuxOptions.InitialWindow)
            throw new YamuxProtocolException($"stream {id} opened with {header.Length} bytes, beyond the initial window");

        YamuxStream? stream = header.Has(YamuxFlags.Syn) ? OnRemoteSyn(id) : Find(id);
        if (stream is null)
        {
            // Unknown, refused or already closed: late frames are normal after RST/FIN, so ignore them
            // (go and js do); a Data payload is drained without being buffered.
            Log.UnknownStreamFrame(_logger, header.Type, id, header.Length);
            if (isData)
                StartPayload(null, header.Length, null);
            return;
        }
        if (header.Has(YamuxFlags.Ack))
            OnAck(stream);
        if (header.Has(YamuxFlags.Rst))
        {
            if (_unflushedStream == stream)
                _unflushedStream = null;
            stream.OnRemoteReset();
            Enqueue(stream);   // the send loop fails the outbound side
            TryRemove(stream);
            if (isData)
                StartPayload(null, header.Length, null);
            return;
        }
        YamuxStream? fin = header.Has(YamuxFlags.Fin) ? stream : null;
        if (isData)
        {
            switch (stream.OnDataHeader(header.Length))
            {
                case YamuxStream.DataVerdict.Violation:
                    throw new YamuxProtocolException($"stream {id} sent a {header.Length}-byte Data frame beyond its receive window");
                case YamuxStream.DataVerdict.Deliver:
                    StartPayload(stream, header.Length, fin);
                    break;
                default:
                    StartPayload(null, header.Length, fin);
                    break;
            }
            return;
        }
        if (!stream.OnWindowUpdate(header.Length, Options.MaxSendWindow, out bool wake))
            throw new YamuxProtocolException($"window update of {header.Length} takes stream {id}'s send window past {Options.MaxSendWindow}");
        if (wake)
            Enqueue(stream);
        if (fin is not null)
            ApplyRemoteFin(fin);
    }

    private void StartPayload(YamuxStream? target, uint length, YamuxStream? fin)
    {
        if (length == 0)
        {
            if (fin is not null)
                ApplyRemoteFin(fin);
            return;
        }
        _payloadStream = target;
        _payloadRemaining = length;
        _payloadFin = fin;
    }

    private void ApplyRemoteFin(YamuxStream stream)
    {
        if (_unflushedStream == stream)
            _unflushedStream = null;   // OnRemoteFin flushes before completing
        if (stream.OnRemoteFin())
            TryRemove(stream);
    }

    private YamuxStream? Find(uint id)
    {
        lock (_lock)
            return _streams.GetValueOrDefault(id);
    }

    private YamuxStream? OnRemoteSyn(uint id)
    {
        bool remoteParity = _isClient ? (id & 1) == 0 : (id & 1) == 1;
        if (!remoteParity)
        {
            string role = _isClient ? "clients" : "servers";
            throw new YamuxProtocolException($"SYN for stream {id} has our own id parity: both endpoints are {role}");
        }
        string? refusal = null;
        YamuxStream? stream = null;
        TaskCompletionSource? acceptWaiter = null;
        lock (_lock)
        {
            // A repeated SYN for a live stream is treated as a plain frame, as js does.
            if (_streams.TryGetValue(id, out YamuxStream? existing))
                return existing;
            if (_state.IsEnded())
                refusal = "the session is closing";
            else if (_inboundCount >= Options.MaxInboundStreams)
                refusal = "too many inbound streams";
            else if (_backlog?.Count >= Options.AcceptBacklog)
                refusal = "accept backlog full";
            else if (!ReceiveBudget.TryReserveStream())
                refusal = "receive budget used up";
            else
            {
                stream = new YamuxStream(this, id, outbound: false, Time.GetTimestamp(), Options.StreamSendBuffer);
                _streams.Add(id, stream);
                _inboundCount++;
                (_backlog ??= new Queue<YamuxStream>()).Enqueue(stream);
                acceptWaiter = _acceptWaiter;
                _acceptWaiter = null;
            }
        }
        if (stream is null)
        {
            Log.StreamRefused(_logger, id, refusal!);
            _sender.QueueRefusal(id);
            return null;
        }
        Log.StreamOpened(_logger, id, "inbound");
        acceptWaiter?.TrySetResult();
        return stream;
    }

    private void OnAck(YamuxStream stream)
    {
        TaskCompletionSource? waiter = null;
        lock (_lock)
        {
            if (!stream.AwaitingAck)
                return;
            stream.AwaitingAck = false;
            _unacknowledged--;
            waiter = _slotWaiter;
            _slotWaiter = null;
        }
        waiter?.TrySetResult();
    }

    private void HandlePing(in YamuxHeader header)
    {
        if (header.Has(YamuxFlags.Syn))
        {
            _sender.QueuePong(header.Length);
            return;
        }
        if (header.Has(YamuxFlags.Ack))
        {
            if (!_keepAlive.OnAnswer(header.Length))
                Log.OddFrame(_logger, "ping answer that matches no ping of ours");
            return;
        }
        Log.OddFrame(_logger, "ping with neither SYN nor ACK");
    }

    private void HandleGoAway(in YamuxHeader header)
    {
        Log.RemoteGoAway(_logger, header.Length);
        if (header.Length != (uint)YamuxGoAwayCode.Normal)
        {
            Terminate(new YamuxGoAwayException(header.Length), goAway: null);
            return;
        }
        // Normal: no new streams either way; existing ones carry on until the connection ends.
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            if (_state == YamuxSessionState.Open)
                _state = YamuxSessionState.GoAwayReceived;
            waiter = _slotWaiter;
            _slotWaiter = null;
        }
        waiter?.TrySetResult();
    }
}
