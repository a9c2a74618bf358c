using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Echo.Net.Identity;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Noise;

/// <summary>
/// The Noise transport phase over a raw connection: plaintext written to <see cref="Output"/> is
/// cut into frames, encrypted and written to the connection; frames read from the connection are
/// decrypted into <see cref="Input"/>. Frame boundaries mean nothing to the layer above.
/// </summary>
/// <remarks>
/// <code>
///   frame = uint16 big-endian length || ChaCha20-Poly1305(k, nonce n, ad = "", plaintext) || 16-byte tag
///           length &lt;= 65535, so plaintext &lt;= 65519 bytes; n counts 0, 1, 2, ... per direction
/// </code>
/// One pump per direction. The receive pump decrypts each frame straight into memory of the
/// <see cref="Input"/> pipe (in place, after one copy, when the frame spans buffer segments); the send
/// pump encrypts from the <see cref="Output"/> pipe's buffer into the connection writer's memory and
/// flushes once per batch of frames. Nothing is allocated per frame, and an idle channel holds no
/// buffers (empty pipes return their segments to the pool).
///
/// A frame that fails authentication, a frame shorter than its tag and a frame cut off by the end of
/// the connection fault the channel: <see cref="Input"/> completes with a
/// <see cref="ProtocolViolationException"/> after the plaintext of the good frames before it, none of
/// the bad frame's, and the receive nonce is not advanced. A clean end of the connection completes
/// <see cref="Input"/> normally; completing <see cref="Output"/> flushes and completes the connection's
/// output. A fault in either direction stops both.
/// </remarks>
internal sealed class NoiseSecureChannel : IDuplexPipe, IAsyncDisposable
{
    public const int MaxFrameLength = 65535;
    public const int MaxPlaintextLength = MaxFrameLength - NoiseCipherState.TagLength;
    private const int LengthPrefixSize = 2;

    /// <summary>
    /// Plaintext per frame we send: 65518 rather than the allowed 65519, so a whole frame (2-byte
    /// length, ciphertext, tag) is exactly 64 KiB and fits one pooled 64 KiB block of the connection
    /// writer instead of claiming a 128 KiB one.
    /// </summary>
    private const int SendChunkLength = 65536 - LengthPrefixSize - NoiseCipherState.TagLength;

    /// <summary>
    /// Plaintext handled between two flushes. Flushing per batch rather than per frame saves the
    /// wake-ups; flushing before the whole buffer is done lets the other end start on it meanwhile.
    /// </summary>
    private const int FlushThreshold = 256 * 1024;

    /// <summary>
    /// Both internal pipes buffer up to 1 MiB before the writer waits (enough to keep the two pumps
    /// and the layer above busy at once). 64 KiB segments hold one whole frame's plaintext, so few
    /// frames straddle segments. Empty pipes hand their segments back to the pool: an idle channel
    /// holds no buffer.
    /// </summary>
    private static readonly PipeOptions PipeOptions = new(
        pauseWriterThreshold: 1024 * 1024,
        resumeWriterThreshold: 512 * 1024,
        minimumSegmentSize: 64 * 1024,
        useSynchronizationContext: false);

    private readonly IDuplexPipe _connection;
    private readonly NoiseCipherState _sendCipher;
    private readonly NoiseCipherState _receiveCipher;
    private readonly ILogger _logger;
    private readonly Pipe _input = new(PipeOptions);
    private readonly Pipe _output = new(PipeOptions);
    private readonly Task _receiveTask;
    private readonly Task _sendTask;
    private Task? _completion;   // built on first use: an idle connection never asks for it
    private Exception? _fault;
    private volatile bool _stopping;
    private volatile bool _receiveDone;
    private volatile bool _sendDone;

    /// <summary>Takes ownership of both cipher states; starts the pumps at once.</summary>
    internal NoiseSecureChannel(IDuplexPipe connection, NoiseCipherState sendCipher, NoiseCipherState receiveCipher,
        PublicKey remotePublicKey, ILogger logger)
    {
        _connection = connection;
        _sendCipher = sendCipher;
        _receiveCipher = receiveCipher;
        _logger = logger;
        RemotePublicKey = remotePublicKey;
        RemotePeer = remotePublicKey.ToPeerId();
        _receiveTask = ReceiveLoopAsync();
        _sendTask = SendLoopAsync();
    }

    public PeerId RemotePeer { get; }

    public PublicKey RemotePublicKey { get; }

    /// <summary>The decrypted byte stream from the remote.</summary>
    public PipeReader Input => _input.Reader;

    /// <summary>Plaintext to the remote; completing it closes our side of the connection after the last frame.</summary>
    public PipeWriter Output => _output.Writer;

    /// <summary>Completes when both pumps have ended; faults with the error that stopped the channel.</summary>
    public Task Completion => _completion ??= Task.WhenAll(_receiveTask, _sendTask);   // equal tasks if two threads race

    /// <summary>Ends when everything written to <see cref="Output"/> is on the connection (or sending failed).</summary>
    public Task SendCompletion => _sendTask;

    /// <summary>The nonce of the next frame we expect (frames decrypted so far).</summary>
    internal ulong ReceiveNonce => _receiveCipher.Nonce;

    internal ulong SendNonce => _sendCipher.Nonce;

    private async Task ReceiveLoopAsync()
    {
        // On the pool, as Task.Run would, without the wrapper task Task.Run keeps for the loop's life
        // (72 bytes per loop; three such loops run for as long as a connection is open).
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        PipeReader source = _connection.Input;
        PipeWriter sink = _input.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await source.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                if (result.IsCanceled && _stopping)
                    break;
                SequencePosition consumed = DecryptFrames(buffer, sink, out long delivered);
                bool atEnd = result.IsCompleted && buffer.Slice(consumed).IsEmpty;
                if (result.IsCompleted && !atEnd && !HasCompleteFrame(buffer.Slice(consumed)))
                    throw new UnexpectedEndException(NoiseHandshake.ProtocolId);   // a frame cut off by the end
                // Stopped early for a flush: the rest is unexamined, so the next read returns at once.
                source.AdvanceTo(consumed, delivered >= FlushThreshold ? consumed : buffer.End);
                if (atEnd)
                {
                    Log.RemoteClosed(_logger, RemotePeer);
                    break;
                }
                if (delivered > 0)
                {
                    FlushResult flush = await sink.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted || (flush.IsCanceled && _stopping))
                        break;   // nobody reads Input any more, or the channel is closing
                }
            }
        }
        catch (Exception e)
        {
            error = e;
            Stop(e);
        }
        _receiveDone = true;
        Exception? fault = error ?? (_stopping ? _fault : null);
        await sink.CompleteAsync(fault).ConfigureAwait(false);   // commits what was decrypted before
        await source.CompleteAsync(fault).ConfigureAwait(false);
        if (error is not null)
            throw error;
    }

    /// <summary>
    /// Decrypts complete frames from the front of <paramref name="buffer"/> into <paramref name="sink"/>
    /// until the buffer holds no complete frame or a flush is due; returns how far it got.
    /// </summary>
    private SequencePosition DecryptFrames(ReadOnlySequence<byte> buffer, PipeWriter sink, out long delivered)
    {
        Span<byte> tag = stackalloc byte[NoiseCipherState.TagLength];
        delivered = 0;
        while (TryReadFrameLength(buffer, out int length) && buffer.Length >= LengthPrefixSize + length)
        {
            if (length < NoiseCipherState.TagLength)
                throw new ProtocolViolationException(NoiseHandshake.ProtocolId,
                    $"a {length}-byte transport message is shorter than its {NoiseCipherState.TagLength}-byte tag");
            if (_receiveCipher.IsExhausted)
                throw new ProtocolViolationException(NoiseHandshake.ProtocolId, "the remote sent more than 2^64-1 messages");
            ReadOnlySequence<byte> frame = buffer.Slice(LengthPrefixSize, length);
            int plaintextLength = length - NoiseCipherState.TagLength;
            Span<byte> destination = sink.GetSpan(plaintextLength)[..plaintextLength];
            bool authentic;
            if (frame.IsSingleSegment)
            {
                ReadOnlySpan<byte> span = frame.FirstSpan;
                authentic = _receiveCipher.TryDecrypt([], span[..plaintextLength], span[plaintextLength..], destination, out _);
            }
            else
            {
                // The frame straddles segments: gather it where the plaintext goes and decrypt in place.
                frame.Slice(0, plaintextLength).CopyTo(destination);
                frame.Slice(plaintextLength).CopyTo(tag);
                authentic = _receiveCipher.TryDecrypt([], destination, tag, destination, out _);
            }
            if (!authentic)
                throw new ProtocolViolationException(NoiseHandshake.ProtocolId,
                    $"transport message {_receiveCipher.Nonce} failed authentication");
            sink.Advance(plaintextLength);
            buffer = buffer.Slice(frame.End);
            delivered += plaintextLength;
            if (delivered >= FlushThreshold)
                break;
        }
        return buffer.Start;
    }

    /// <summary>Reads the 2-byte big-endian length prefix at the front of <paramref name="buffer"/>, if both bytes are there.</summary>
    internal static bool TryReadFrameLength(in ReadOnlySequence<byte> buffer, out int length)
    {
        length = 0;
        if (buffer.Length < LengthPrefixSize)
            return false;
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= LengthPrefixSize)
        {
            length = BinaryPrimitives.ReadUInt16BigEndian(first);
        }
        else
        {
            Span<byte> prefix = stackalloc byte[LengthPrefixSize];
            buffer.Slice(0, LengthPrefixSize).CopyTo(prefix);
            length = BinaryPrimitives.ReadUInt16BigEndian(prefix);
        }
        return true;
    }

    private static bool HasCompleteFrame(in ReadOnlySequence<byte> buffer) =>
        TryReadFrameLength(buffer, out int length) && buffer.Length >= LengthPrefixSize + length;

    private async Task SendLoopAsync()
    {
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        PipeReader source = _output.Reader;
        PipeWriter sink = _connection.Output;
        Exception? error = null;
        bool exhausted = false;
        try
        {
            while (true)
            {
                ReadResult result = await source.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                if (result.IsCanceled && _stopping)
                    break;
                ReadOnlySequence<byte> batch = buffer.Slice(0, Math.Min(buffer.Length, FlushThreshold));
                SequencePosition consumed;
                try
                {
                    consumed = EncryptFrames(batch, sink);
                }
                catch (NoiseNonceExhaustedException)
                {
                    // Send what was encrypted, then close our side cleanly: the remote gets every
                    // frame we could number, then the end of the stream.
                    exhausted = true;
                    await sink.FlushAsync().ConfigureAwait(false);
                    throw;
                }
                source.AdvanceTo(consumed, batch.End);
                bool done = result.IsCompleted && batch.Length == buffer.Length;
                FlushResult flush = await sink.FlushAsync().ConfigureAwait(false);
                if (done)
                {
                    Log.LocalClosed(_logger, RemotePeer);
                    break;
                }
                if (flush.IsCompleted || (flush.IsCanceled && _stopping))
                    break;   // the connection no longer takes bytes, or the channel is closing
            }
        }
        catch (Exception e)
        {
            error = e;
            Stop(e);
        }
        _sendDone = true;
        Exception? fault = error ?? (_stopping ? _fault : null);
        await source.CompleteAsync(fault).ConfigureAwait(false);
        await sink.CompleteAsync(exhausted ? null : fault).ConfigureAwait(false);
        if (error is not null)
            throw error;
    }

    /// <summary>Encrypts all of <paramref name="plaintext"/> into frames of at most <see cref="SendChunkLength"/> plaintext bytes.</summary>
    private SequencePosition EncryptFrames(ReadOnlySequence<byte> plaintext, PipeWriter sink)
    {
        while (!plaintext.IsEmpty)
        {
            if (_sendCipher.IsExhausted)
                throw new NoiseNonceExhaustedException();
            int length = (int)Math.Min(plaintext.Length, SendChunkLength);
            int frameLength = length + NoiseCipherState.TagLength;
            Span<byte> frame = sink.GetSpan(LengthPrefixSize + frameLength)[..(LengthPrefixSize + frameLength)];
            BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)frameLength);
            Span<byte> body = frame[LengthPrefixSize..];
            ReadOnlySequence<byte> chunk = plaintext.Slice(0, length);
            if (chunk.IsSingleSegment)
            {
                _sendCipher.EncryptWithAd([], chunk.FirstSpan, body);
            }
            else
            {
                // The chunk straddles segments: gather it into the frame and encrypt in place.
                chunk.CopyTo(body);
                _sendCipher.EncryptWithAd([], body[..length], body);
            }
            sink.Advance(frame.Length);
            plaintext = plaintext.Slice(chunk.End);
        }
        return plaintext.Start;
    }

    /// <summary>Makes both pumps stop at their next step; <paramref name="fault"/> (if any) completes the other side too.</summary>
    private void Stop(Exception? fault)
    {
        if (fault is not null)
        {
            Interlocked.CompareExchange(ref _fault, fault, null);
            Log.ChannelFailed(_logger, RemotePeer, fault.Message);
        }
        _stopping = true;
        try
        {
            if (!_receiveDone)
            {
                _connection.Input.CancelPendingRead();
                _input.Writer.CancelPendingFlush();
            }
            if (!_sendDone)
            {
                _output.Reader.CancelPendingRead();
                _connection.Output.CancelPendingFlush();
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
        {
            // The pump completed that side meanwhile; it has nothing left to wake.
        }
    }

    /// <summary>Stops both pumps (unsent plaintext is dropped), completes the connection and waits.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!Completion.IsCompleted)
            Stop(null);
        try
        {
            await Completion.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Already reported through Completion, Input and Output; disposal does not throw.
        }
        _sendCipher.Dispose();
        _receiveCipher.Dispose();
    }
}
