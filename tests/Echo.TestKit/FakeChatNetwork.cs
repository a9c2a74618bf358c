using System.Collections.Concurrent;
using System.Threading.Channels;
using Echo.Core.Chat;
using Echo.Core.Ports;

namespace Echo.TestKit;

/// <summary>An in-memory <see cref="IChatNetwork"/>: records what the chat asks, lets a test inject what the network says.</summary>
public sealed class FakeChatNetwork : IChatNetwork
{
    private readonly Channel<NetworkEvent> _events = Channel.CreateUnbounded<NetworkEvent>();
    private long _seqno;

    public string LocalPeerId { get; init; } = "12D3KooWLocalPeer00000000000000000000000000000000";

    public IReadOnlyList<string> ListenAddresses => ["/ip4/127.0.0.1/tcp/4001/p2p/" + LocalPeerId];

    public ChannelReader<NetworkEvent> Events => _events.Reader;

    public ConcurrentQueue<string> Joined { get; } = new();

    public ConcurrentQueue<string> Left { get; } = new();

    public ConcurrentQueue<ChatMessage> Published { get; } = new();

    public Func<string, string> Connect { get; set; } = address => throw new ChatNetworkException($"connection refused at {address}");

    public bool Started { get; private set; }

    public bool Disposed { get; private set; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Started = true;
        return Task.CompletedTask;
    }

    /// <summary>When set, a dial waits on this instead of answering at once through <see cref="Connect"/>.</summary>
    public Func<string, CancellationToken, Task<string>>? ConnectSlowly { get; set; }

    public Task<string> ConnectAsync(string address, CancellationToken cancellationToken) =>
        ConnectSlowly?.Invoke(address, cancellationToken) ?? Task.FromResult(Connect(address));

    public Task JoinRoomAsync(string room, CancellationToken cancellationToken)
    {
        Joined.Enqueue(room);
        return Task.CompletedTask;
    }

    public Task LeaveRoomAsync(string room, CancellationToken cancellationToken)
    {
        Left.Enqueue(room);
        return Task.CompletedTask;
    }

    public Task<ChatMessage> PublishAsync(string room, string nick, string text, CancellationToken cancellationToken)
    {
        ChatMessage message = new($"{LocalPeerId}/{Interlocked.Increment(ref _seqno)}", room, LocalPeerId, nick, text,
            DateTimeOffset.UtcNow, MessageOrigin.Local);
        Published.Enqueue(message);
        return Task.FromResult(message);
    }

    public void Inject(NetworkEvent networkEvent) => Assert.True(_events.Writer.TryWrite(networkEvent));

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        _events.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }
}
