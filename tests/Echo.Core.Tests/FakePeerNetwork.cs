using System.Collections.Concurrent;
using System.Threading.Channels;
using Echo.Core.Chat;
using Echo.Core.Ports;

namespace Echo.Core.Tests;

/// <summary>An in-memory network that remembers peers: dials answer as the test says, forgets are recorded.</summary>
internal sealed class FakePeerNetwork : IChatNetwork, IPeerNetwork
{
    private readonly FakeChatNetwork _chat = new();

    /// <summary>The room side, for injecting events.</summary>
    public FakeChatNetwork Chat => _chat;

    public string LocalPeerId => _chat.LocalPeerId;

    public IReadOnlyList<string> ListenAddresses => _chat.ListenAddresses;

    public ChannelReader<NetworkEvent> Events => _chat.Events;

    /// <summary>What a dial of an address comes to (throw <see cref="ChatNetworkException"/> to refuse).</summary>
    public Func<string, ConnectResult> Dial { get; set; } = address => throw new ChatNetworkException($"connection refused at {address}");

    /// <summary>The peers remembered now; <see cref="ForgetAsync"/> removes from it.</summary>
    public ConcurrentDictionary<string, bool> Remembered { get; } = new();

    public ConcurrentQueue<string> Forgotten { get; } = new();

    public IReadOnlyList<RememberedPeer> AwayPeers => [];

    public Task StartAsync(CancellationToken cancellationToken) => _chat.StartAsync(cancellationToken);

    public Task<string> ConnectAsync(string address, CancellationToken cancellationToken) => Task.FromResult(Dial(address).PeerId);

    public Task<ConnectResult> DialAsync(string address, CancellationToken cancellationToken) => Task.FromResult(Dial(address));

    public Task<bool> ForgetAsync(string peerId, CancellationToken cancellationToken)
    {
        Forgotten.Enqueue(peerId);
        bool removed = Remembered.TryRemove(peerId, out _);
        if (removed)
            _chat.Inject(new PeerForgotten(peerId));
        return Task.FromResult(removed);
    }

    public Task JoinRoomAsync(string room, CancellationToken cancellationToken) => _chat.JoinRoomAsync(room, cancellationToken);

    public Task LeaveRoomAsync(string room, CancellationToken cancellationToken) => _chat.LeaveRoomAsync(room, cancellationToken);

    public Task<ChatMessage> PublishAsync(string room, string nick, string text, CancellationToken cancellationToken) =>
        _chat.PublishAsync(room, nick, text, cancellationToken);

    public ValueTask DisposeAsync() => _chat.DisposeAsync();
}
