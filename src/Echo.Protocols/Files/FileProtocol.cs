using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Echo.Core.Chat;
using Echo.Core.Files;
using Echo.Core.Ports;
using Echo.Net;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.ResourceManager;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Echo.Protocols.Files;

/// <summary>
/// <c>/echo/file/1.0.0</c>: the bytes of an offered file from an offset on. The sender answers only
/// for ids it offered (to this peer, or to a room) and only while the file is unchanged; it never
/// reads a path a peer names. Served transfers are capped per peer and in total, and one that makes
/// no progress for <see cref="ChatNetworkOptions.ServedStreamIdleTimeout"/> is reset, closing its file
/// (docs/LIMITS.md, L-served-files, L-served-idle).
/// </summary>
internal sealed class FileProtocol(Libp2pHost host, Func<OfferLookup?> offers, ChatNetworkOptions options, TimeProvider time, ILogger logger)
{
    public const string ProtocolId = "/echo/file/1.0.0";

    /// <summary>Request and response are a few dozen bytes.</summary>
    public const int MaxHeaderBytes = 1024;

    /// <summary>How long the request and the response may take (the bytes after it may take as long as they need).</summary>
    public static readonly TimeSpan HeaderTimeout = TimeSpan.FromSeconds(10);

    private const int ChunkSize = 256 * 1024;

    private readonly Lock _gate = new();
    private readonly Dictionary<PeerId, int> _servingPerPeer = [];
    private int _serving;
    private long _refusedPerPeer;
    private long _refusedTotal;
    private long _idleResets;

    /// <summary>Files being sent now.</summary>
    public int Serving
    {
        get
        {
            lock (_gate)
                return _serving;
        }
    }

    /// <summary>Requests reset because their peer already had <see cref="ChatNetworkOptions.MaxServedFilesPerPeer"/> files being sent.</summary>
    public long RefusedPerPeer => Interlocked.Read(ref _refusedPerPeer);

    /// <summary>Requests reset because <see cref="ChatNetworkOptions.MaxServedFiles"/> files were being sent.</summary>
    public long RefusedTotal => Interlocked.Read(ref _refusedTotal);

    /// <summary>Served streams reset because they made no progress for the idle timeout.</summary>
    public long IdleResets => Interlocked.Read(ref _idleResets);

    /// <summary>Serves one fetch, reset when it stays without progress for the idle timeout.</summary>
    public async Task HandleAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        using IdleWatchdog idle = new(options.ServedStreamIdleTimeout, time, cancellationToken);
        try
        {
            await ServeAsync(stream, idle, idle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (idle.IdledOut)
        {
            Interlocked.Increment(ref _idleResets);
            Log.ServedStreamIdle(logger, stream.RemotePeer, ProtocolId, options.ServedStreamIdleTimeout.TotalSeconds);
            stream.Reset();
        }
    }

    private async Task ServeAsync(P2PStream stream, IdleWatchdog idle, CancellationToken cancellationToken)
    {
        FileRequest request;
        using (CancellationTokenSource deadline = new(HeaderTimeout, time))
        using (CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token))
        {
            byte[] bytes = await stream.Input.ReadLengthPrefixedAsync(MaxHeaderBytes, ProtocolId, limit.Token).ConfigureAwait(false)
                ?? throw new UnexpectedEndException(ProtocolId);
            request = Parse(bytes, FileRequest.Parser);
        }
        OfferedFile? offered = offers()?.Invoke(stream.RemotePeer.ToString(), request.Id);
        if (offered is null)
        {
            await RefuseAsync(stream, "no such offer", cancellationToken).ConfigureAwait(false);
            return;
        }
        long size = offered.Offer.Size;
        if (request.Offset > (ulong)size)
        {
            await RefuseAsync(stream, $"offset {request.Offset} is beyond the size {size}", cancellationToken).ConfigureAwait(false);
            return;
        }
        PeerId peer = stream.RemotePeer;
        if (!TryStartTransfer(peer))
        {
            // Reset, not refused: the fetcher may try again once a transfer ended.
            stream.Reset();
            return;
        }
        try
        {
            await SendAsync(stream, request, offered, idle, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            EndTransfer(peer);
        }
    }

    private bool TryStartTransfer(PeerId peer)
    {
        lock (_gate)
        {
            int ofPeer = _servingPerPeer.GetValueOrDefault(peer);
            if (ofPeer >= options.MaxServedFilesPerPeer)
            {
                Interlocked.Increment(ref _refusedPerPeer);
                return false;
            }
            if (_serving >= options.MaxServedFiles)
            {
                Interlocked.Increment(ref _refusedTotal);
                return false;
            }
            _servingPerPeer[peer] = ofPeer + 1;
            _serving++;
            return true;
        }
    }

    private void EndTransfer(PeerId peer)
    {
        lock (_gate)
        {
            _serving--;
            if (--CollectionsMarshal.GetValueRefOrNullRef(_servingPerPeer, peer) == 0)
                _servingPerPeer.Remove(peer);
        }
    }

    private async Task SendAsync(P2PStream stream, FileRequest request, OfferedFile offered, IdleWatchdog idle, CancellationToken cancellationToken)
    {
        long size = offered.Offer.Size;
        // Every open file counts against the host's descriptor budget, as connections do.
        using DescriptorLease? descriptor = host.Resources.Descriptors.TryReserve();
        if (descriptor is null)
        {
            await RefuseAsync(stream, "too many files are being sent; try again later", cancellationToken).ConfigureAwait(false);
            return;
        }
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(offered.Path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await RefuseAsync(stream, "the file cannot be read", cancellationToken).ConfigureAwait(false);
            return;
        }
        using (file)
        {
            if (RandomAccess.GetLength(file) != size)
            {
                await RefuseAsync(stream, "the file changed since it was offered", cancellationToken).ConfigureAwait(false);
                return;
            }
            Log.FileServing(logger, stream.RemotePeer, request.Id, request.Offset);
            await WriteMessageAsync(stream.Output, new FileResponse { Ok = true, Size = (ulong)size }, cancellationToken).ConfigureAwait(false);
            long position = (long)request.Offset;
            PipeWriter output = stream.Output;
            while (position < size)
            {
                Memory<byte> memory = output.GetMemory(ChunkSize);
                int want = (int)Math.Min(memory.Length, size - position);
                int n = await RandomAccess.ReadAsync(file, memory[..want], position, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw new IOException($"{offered.Path} ended early at byte {position}");
                output.Advance(n);
                position += n;
                FlushResult flushed = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                    return;
                idle.Progress();
            }
        }
        await stream.CompleteOutputAsync().ConfigureAwait(false);
    }

    /// <summary>Asks for <paramref name="fileId"/> from <paramref name="offset"/>; returns the bytes and the file's size.</summary>
    /// <exception cref="FileSharingException">The sender refused (no such offer, changed file): retrying will not help.</exception>
    /// <exception cref="ChatNetworkException">The peer cannot be reached or did not answer.</exception>
    public async Task<(Stream Bytes, long Size)> OpenAsync(string peerId, string fileId, long offset, CancellationToken cancellationToken)
    {
        if (!PeerId.TryParse(peerId, out PeerId? peer) || peer is null)
            throw new FileSharingException($"{SafeText.ForDisplay(peerId)} is not a peer id");
        using CancellationTokenSource deadline = new(HeaderTimeout, time);
        using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        P2PStream stream = await ProtocolStreams.OpenAsync(host, peer, ProtocolId, "the sender is not connected", limit.Token, cancellationToken)
            .ConfigureAwait(false);
        try
        {
            await WriteMessageAsync(stream.Output, new FileRequest { Id = fileId, Offset = (ulong)offset }, limit.Token).ConfigureAwait(false);
            await stream.CompleteOutputAsync().ConfigureAwait(false);
            byte[] bytes = await stream.Input.ReadLengthPrefixedAsync(MaxHeaderBytes, ProtocolId, limit.Token).ConfigureAwait(false)
                ?? throw new ChatNetworkException("the sender closed the stream without answering");
            FileResponse response = Parse(bytes, FileResponse.Parser);
            if (!response.Ok)
                throw new FileSharingException("the sender refused: " + SafeText.ForDisplay(response.Reason));
            if (response.Size > long.MaxValue)
                throw new FileSharingException("the sender gave an impossible size");
            return (new InputStream(stream), (long)response.Size);
        }
        catch (Exception e) when (e is IOException or ProtocolViolationException or ChatNetworkException or FileSharingException
                                  || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            stream.Reset();
            if (e is ChatNetworkException or FileSharingException)
                throw;
            throw new ChatNetworkException(e is OperationCanceledException ? "the sender did not answer in time" : e.Message, e);
        }
    }

    private static async Task RefuseAsync(P2PStream stream, string reason, CancellationToken cancellationToken)
    {
        await WriteMessageAsync(stream.Output, new FileResponse { Ok = false, Reason = reason }, cancellationToken).ConfigureAwait(false);
        await stream.CompleteOutputAsync().ConfigureAwait(false);
    }

    private static ValueTask WriteMessageAsync(PipeWriter output, IMessage message, CancellationToken cancellationToken) =>
        output.WriteLengthPrefixedAsync(message.ToByteArray(), cancellationToken);

    private static T Parse<T>(byte[] bytes, MessageParser<T> parser) where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ProtocolViolationException(ProtocolId, "bad header: " + e.Message, e);
        }
    }

    /// <summary>The file's bytes as a read-only stream; disposing it before the end resets the libp2p stream.</summary>
    private sealed class InputStream(P2PStream stream) : Stream
    {
        private bool _ended;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            while (true)
            {
                ReadResult result = await stream.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
                System.Buffers.ReadOnlySequence<byte> data = result.Buffer;
                if (!data.IsEmpty)
                {
                    int n = (int)Math.Min(data.Length, buffer.Length);
                    System.Buffers.BuffersExtensions.CopyTo(data.Slice(0, n), buffer.Span);
                    stream.Input.AdvanceTo(data.GetPosition(n));
                    return n;
                }
                stream.Input.AdvanceTo(data.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    _ended = true;
                    return 0;
                }
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_ended)
                stream.Reset();
            base.Dispose(disposing);
        }
    }
}
