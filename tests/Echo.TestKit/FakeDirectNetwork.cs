using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Threading.Channels;
using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Files;
using Echo.Core.Ports;

namespace Echo.TestKit;

/// <summary>
/// An in-memory network with the direct and file ports: peers are "connected" by a flag, direct frames are
/// recorded, and files are served from byte arrays through a hook a test can make misbehave.
/// </summary>
public sealed class FakeDirectNetwork : IChatNetwork, IDirectNetwork, IFileTransport
{
    private readonly FakeChatNetwork _chat = new();

    /// <summary>The room side, for injecting messages and peers.</summary>
    public FakeChatNetwork Chat => _chat;

    public string LocalPeerId => _chat.LocalPeerId;

    public IReadOnlyList<string> ListenAddresses => _chat.ListenAddresses;

    public ChannelReader<NetworkEvent> Events => _chat.Events;

    public ConcurrentDictionary<string, bool> Connected { get; } = new();

    public ConcurrentQueue<(string PeerId, DirectEnvelope Envelope)> Sent { get; } = new();

    /// <summary>Files "a peer" serves: id to content.</summary>
    public ConcurrentDictionary<string, byte[]> Remote { get; } = new();

    /// <summary>Offsets asked for, in order.</summary>
    public ConcurrentQueue<long> Requests { get; } = new();

    /// <summary>Shapes what a fetch returns: (content, offset) to the bytes sent. Default: the rest of the content.</summary>
    public Func<byte[], long, byte[]> Serve { get; set; } = (content, offset) => content[(int)offset..];

    public OfferLookup? Offers { get; set; }

    public bool IsConnected(string peerId) => Connected.GetValueOrDefault(peerId);

    /// <summary>Attempts to send, acknowledged or not, in order.</summary>
    public ConcurrentQueue<(string PeerId, DirectEnvelope Envelope)> Attempts { get; } = new();

    /// <summary>When set, the peer answers "not accepted" with this reason.</summary>
    public string? Refuse { get; set; }

    public Task SendDirectAsync(string peerId, DirectEnvelope envelope, CancellationToken cancellationToken)
    {
        if (!IsConnected(peerId))
            throw new ChatNetworkException("the peer is not connected");
        Attempts.Enqueue((peerId, envelope));
        if (Refuse is { } reason)
            throw new ChatNetworkException("the peer refused it: " + reason);
        Sent.Enqueue((peerId, envelope));
        return Task.CompletedTask;
    }

    public Task<ChatMessage> PublishFileOfferAsync(string room, string nick, string text, FileOffer offer, CancellationToken cancellationToken) =>
        _chat.PublishAsync(room, nick, text, cancellationToken);

    public Task<(Stream Bytes, long Size)> OpenFileAsync(string peerId, string fileId, long offset, CancellationToken cancellationToken)
    {
        if (!IsConnected(peerId))
            throw new ChatNetworkException("the sender is not connected");
        if (!Remote.TryGetValue(fileId, out byte[]? content))
            throw new FileSharingException("the sender refused: no such offer");
        Requests.Enqueue(offset);
        return Task.FromResult<(Stream, long)>((new MemoryStream(Serve(content, offset)), content.Length));
    }

    /// <summary>Makes a remote file with <paramref name="name"/> and returns its offer.</summary>
    public FileOffer AddRemote(string name, byte[] content)
    {
        FileOffer offer = new(Echo.Core.Direct.DirectIds.New(), name, content.Length, Convert.ToHexStringLower(SHA256.HashData(content)));
        Remote[offer.Id] = content;
        return offer;
    }

    public void Inject(NetworkEvent networkEvent) => _chat.Inject(networkEvent);

    public Task StartAsync(CancellationToken cancellationToken) => _chat.StartAsync(cancellationToken);

    public Task<string> ConnectAsync(string address, CancellationToken cancellationToken) => _chat.ConnectAsync(address, cancellationToken);

    public Task JoinRoomAsync(string room, CancellationToken cancellationToken) => _chat.JoinRoomAsync(room, cancellationToken);

    public Task LeaveRoomAsync(string room, CancellationToken cancellationToken) => _chat.LeaveRoomAsync(room, cancellationToken);

    public Task<ChatMessage> PublishAsync(string room, string nick, string text, CancellationToken cancellationToken) =>
        _chat.PublishAsync(room, nick, text, cancellationToken);

    /// <summary>Lets a second chat use this network after the first is disposed (a restart).</summary>
    public bool KeepOpenOnDispose { get; set; }

    public ValueTask DisposeAsync() => KeepOpenOnDispose ? ValueTask.CompletedTask : _chat.DisposeAsync();
}
