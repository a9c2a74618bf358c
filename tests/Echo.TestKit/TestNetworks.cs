using System.Threading.Channels;
using Echo.Core;
using Echo.Core.Chat;
using Echo.Core.Events;
using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Net.Pubsub;
using Echo.Protocols;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.TestKit;

/// <summary>Started adapters on 127.0.0.1:0 and ways to wait for what they report.</summary>
public static class TestNetworks
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    /// <summary>A faster heartbeat, so meshes form quickly on loopback.</summary>
    public static readonly PubsubOptions FastPubsub = new() { HeartbeatInterval = TimeSpan.FromMilliseconds(100) };

    public static ChatNetworkOptions Options => new() { Pubsub = FastPubsub };

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static Libp2pHost NewHost(ILoggerFactory? loggers = null, string listen = "/ip4/127.0.0.1/tcp/0") =>
        new(KeyPair.Generate(), new HostOptions { ListenAddresses = [Multiaddr.Parse(listen)] }, loggers ?? NullLoggerFactory.Instance);

    public static async Task<Libp2pChatNetwork> StartAsync(ChatNetworkOptions? options = null, ILoggerFactory? loggers = null)
    {
        loggers ??= NullLoggerFactory.Instance;
        Libp2pChatNetwork network = new(NewHost(loggers), options ?? Options, loggers);
        await network.StartAsync(Ct);
        return network;
    }

    public static PeerId Id(this Libp2pChatNetwork network) => network.Host.PeerId;

    /// <summary>Reads events until one matches (the others are dropped); bounded by <see cref="Wait"/>.</summary>
    public static async Task<T> NextAsync<T>(this ChannelReader<NetworkEvent> events, Func<T, bool>? match = null)
        where T : NetworkEvent
    {
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(Wait);
        try
        {
            while (true)
            {
                if (await events.ReadAsync(deadline.Token) is T found && (match is null || match(found)))
                    return found;
            }
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            Assert.Fail($"no {typeof(T).Name} within {Wait.TotalSeconds} s");
            throw;
        }
    }

    /// <summary>Waits until both adapters see each other in <paramref name="room"/>'s topic.</summary>
    public static Task InTopicAsync(Libp2pChatNetwork a, Libp2pChatNetwork b, string room = "lobby") =>
        TestHosts.WaitUntilAsync(
            () => a.Router.TopicPeers("chat-room:" + room).Contains(b.Id()) && b.Router.TopicPeers("chat-room:" + room).Contains(a.Id()),
            $"both peers are in {room}'s topic", Wait);

    /// <summary>Waits until each adapter has the other in its mesh for <paramref name="room"/> (relayed messages go to the mesh only).</summary>
    public static Task InMeshAsync(Libp2pChatNetwork a, Libp2pChatNetwork b, string room = "lobby") =>
        TestHosts.WaitUntilAsync(
            () => a.Router.MeshPeers("chat-room:" + room).Contains(b.Id()) && b.Router.MeshPeers("chat-room:" + room).Contains(a.Id()),
            $"both peers are in each other's mesh for {room}", Wait);
}

/// <summary>An adapter wired to a <see cref="ChatManager"/>, with every chat event it produced.</summary>
public sealed class ChatNode : IAsyncDisposable
{
    private readonly List<ChatEvent> _seen = [];
    private readonly ChatSubscription _feed;

    private ChatNode(Libp2pChatNetwork network, ChatManager chat)
    {
        Network = network;
        Chat = chat;
        _feed = chat.Subscribe();
    }

    public Libp2pChatNetwork Network { get; }

    public ChatManager Chat { get; }

    public PeerId Id => Network.Id();

    public string Address => Network.ListenAddresses[0];

    /// <param name="configure">Sets the adapter up before it starts (e.g. its DHT).</param>
    public static async Task<ChatNode> StartAsync(string nick, ChatNetworkOptions? options = null, ILoggerFactory? loggers = null,
        Action<Libp2pChatNetwork>? configure = null)
    {
        loggers ??= NullLoggerFactory.Instance;
        Libp2pChatNetwork network = new(TestNetworks.NewHost(loggers), options ?? TestNetworks.Options, loggers);
        configure?.Invoke(network);
        ChatNode node = new(network, new ChatManager(network, new ChatOptions { Nick = nick }, NullLogger<ChatManager>.Instance));
        await node.Chat.StartAsync(TestContext.Current.CancellationToken);
        return node;
    }

    /// <summary>Every message shown so far (read up to now).</summary>
    public IReadOnlyList<ChatMessage> Messages
    {
        get
        {
            Drain();
            return [.. _seen.OfType<MessageEvent>().Select(m => m.Message)];
        }
    }

    /// <summary>Every chat event so far (read up to now).</summary>
    public IReadOnlyList<ChatEvent> Seen
    {
        get
        {
            Drain();
            return [.. _seen];
        }
    }

    private void Drain()
    {
        while (_feed.Events.TryRead(out ChatEvent? e))
            _seen.Add(e);
    }

    /// <summary>The first event, already seen or still to come, that matches.</summary>
    public async Task<T> EventAsync<T>(Func<T, bool>? match = null) where T : ChatEvent
    {
        Drain();
        if (_seen.OfType<T>().FirstOrDefault(e => match is null || match(e)) is { } seen)
            return seen;
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TestNetworks.Wait);
        try
        {
            while (true)
            {
                ChatEvent e = await _feed.Events.ReadAsync(deadline.Token);
                _seen.Add(e);
                if (e is T found && (match is null || match(found)))
                    return found;
            }
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            Assert.Fail($"no {typeof(T).Name} within {TestNetworks.Wait.TotalSeconds} s; seen: {string.Join(", ", _seen)}");
            throw;
        }
    }

    public async Task<ChatMessage> MessageAsync(string text) =>
        (await EventAsync<MessageEvent>(m => m.Message.Text == text)).Message;

    public async ValueTask DisposeAsync()
    {
        _feed.Dispose();
        await Chat.DisposeAsync();
    }
}
