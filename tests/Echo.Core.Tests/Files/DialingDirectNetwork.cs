using System.Collections.Concurrent;
using System.Threading.Channels;
using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Files;
using Echo.Core.Ports;

namespace Echo.Core.Tests.Files;

/// <summary>
/// <see cref="FakeDirectNetwork"/> that can also dial a peer by id (<see cref="IPeerDialer"/>) through
/// a hook, and whose file streams a test can replace (a sender that stops sending).
/// </summary>
internal sealed class DialingDirectNetwork : IChatNetwork, IDirectNetwork, IFileTransport, IPeerDialer
{
    public FakeDirectNetwork Inner { get; } = new() { KeepOpenOnDispose = true };

    /// <summary>Every dial asked for: the peer and the hints it came with.</summary>
    public ConcurrentQueue<(string PeerId, IReadOnlyList<string> Hints)> Dials { get; } = new();

    /// <summary>What a dial does; the default connects the peer at once.</summary>
    public Func<string, CancellationToken, Task> Dial { get; set; }

    /// <summary>Replaces the bytes of a fetch: (offset, content) to the stream the receiver reads; null serves the rest of the content.</summary>
    public Func<long, byte[], Stream>? OpenStream { get; set; }

    public DialingDirectNetwork()
    {
        Dial = (peerId, _) =>
        {
            Inner.Connected[peerId] = true;
            return Task.CompletedTask;
        };
    }

    public Task DialPeerAsync(string peerId, IReadOnlyList<string> hints, CancellationToken cancellationToken)
    {
        Dials.Enqueue((peerId, hints));
        return Dial(peerId, cancellationToken);
    }

    public string LocalPeerId => Inner.LocalPeerId;

    public IReadOnlyList<string> ListenAddresses => Inner.ListenAddresses;

    public ChannelReader<NetworkEvent> Events => Inner.Events;

    public OfferLookup? Offers
    {
        get => Inner.Offers;
        set => Inner.Offers = value;
    }

    public bool IsConnected(string peerId) => Inner.IsConnected(peerId);

    public Task SendDirectAsync(string peerId, DirectEnvelope envelope, CancellationToken cancellationToken) =>
        Inner.SendDirectAsync(peerId, envelope, cancellationToken);

    public Task<ChatMessage> PublishFileOfferAsync(string room, string nick, string text, FileOffer offer, CancellationToken cancellationToken) =>
        Inner.PublishFileOfferAsync(room, nick, text, offer, cancellationToken);

    public async Task<(Stream Bytes, long Size)> OpenFileAsync(string peerId, string fileId, long offset, CancellationToken cancellationToken)
    {
        (Stream bytes, long size) = await Inner.OpenFileAsync(peerId, fileId, offset, cancellationToken);
        if (OpenStream is null)
            return (bytes, size);
        await bytes.DisposeAsync();
        return (OpenStream(offset, Inner.Remote[fileId]), size);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Inner.StartAsync(cancellationToken);

    public Task<string> ConnectAsync(string address, CancellationToken cancellationToken) => Inner.ConnectAsync(address, cancellationToken);

    public Task JoinRoomAsync(string room, CancellationToken cancellationToken) => Inner.JoinRoomAsync(room, cancellationToken);

    public Task LeaveRoomAsync(string room, CancellationToken cancellationToken) => Inner.LeaveRoomAsync(room, cancellationToken);

    public Task<ChatMessage> PublishAsync(string room, string nick, string text, CancellationToken cancellationToken) =>
        Inner.PublishAsync(room, nick, text, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// A sender that sends <c>first</c> bytes and then nothing, until the reader gives up (cancels);
/// <see cref="Silent"/> completes once the reader waits on the silence.
/// </summary>
internal sealed class SilentAfterStream(byte[] first) : Stream
{
    private int _position;

    public TaskCompletionSource Silent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_position < first.Length)
        {
            int n = Math.Min(buffer.Length, first.Length - _position);
            first.AsMemory(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }
        Silent.TrySetResult();
        await Task.Delay(Timeout.Infinite, cancellationToken);
        return 0;
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
