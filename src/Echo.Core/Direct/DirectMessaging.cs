using Echo.Core.Chat;
using Echo.Core.Conversations;
using Echo.Core.Events;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging;

namespace Echo.Core.Direct;

/// <summary>
/// Direct messages as a feature of the chat, over the port <see cref="IDirectNetwork"/>: the outbox
/// and arrivals (<see cref="DirectChat"/>, with its store), and reaching a peer a message waits for
/// (<see cref="PeerDialing"/>, shared with file sharing). The chat resolves nicks and hands it peer
/// ids; each conversation is <see cref="ConversationId.Direct(string)"/> of its peer.
/// </summary>
internal sealed class DirectMessaging : IAsyncDisposable
{
    /// <summary>What a request is told when the network has no direct messages or file sharing.</summary>
    internal const string NoDirectNetwork = "this network has no direct messages or file sharing";

    private readonly IDirectNetwork _network;
    private readonly DirectChat _chat;
    private readonly Action<ChatEvent> _publish;
    private readonly BackgroundTasks _background = new();
    private readonly CancellationTokenSource _stopping = new();

    /// <remarks>
    /// Without a direct store while there is a history store, the history file cannot keep direct
    /// messages: they are then kept in memory for the session, and arrivals are not acknowledged.
    /// </remarks>
    public DirectMessaging(IDirectNetwork network, ChatOptions options, IDirectStore? store, IMessageStore? history, StoreHealth health,
        Action<ChatEvent> publish, ILogger logger)
    {
        _network = network;
        _publish = publish;
        Dialing = new PeerDialing(network, options.PeerConnectTimeout, publish, logger);
        _chat = new DirectChat(network, store ?? new InMemoryDirectStore(), publish, logger, health: health,
            notDurable: store is null && history is not null ? history.Problem ?? "the history file is read-only" : null);
    }

    /// <summary>Dials peers a request needs (file sharing uses it too).</summary>
    public PeerDialing Dialing { get; }

    /// <summary>Where a peer was seen (e.g. the addresses its file offers came from), to dial it; set by the chat.</summary>
    public Func<string, IReadOnlyList<string>> AddressesOf { get; set; } = _ => [];

    /// <summary>The last <paramref name="count"/> direct messages with <paramref name="peerId"/> (with anyone when null), oldest first.</summary>
    public Task<IReadOnlyList<DirectMessage>> ConversationAsync(string? peerId, int count, CancellationToken cancellationToken) =>
        _chat.Store.ConversationAsync(peerId, count, cancellationToken);

    /// <summary>
    /// Sends <paramref name="text"/> to <paramref name="peerId"/> as <paramref name="nick"/>: in the
    /// outbox first, shown, sent when the peer is connected; a peer that is not is dialed (it can be
    /// <paramref name="name"/>d to the user), and the message waits for it. With <paramref name="action"/>
    /// the text is a /me action.
    /// </summary>
    public async Task SendAsync(string peerId, string nick, string name, string text, bool action, CancellationToken cancellationToken)
    {
        await _chat.SendAsync(peerId, nick, text, action, cancellationToken).ConfigureAwait(false);
        if (_network is IPeerDialer && !_network.IsConnected(peerId))
            Reach(peerId, name);
    }

    /// <summary>Dials a peer a direct message waits for; says why when it cannot be reached (the message stays in the outbox).</summary>
    private void Reach(string peerId, string name) =>
        Dialing.Reach(peerId, name, AddressesOf(peerId), problem =>
        {
            if (problem is null)
                _chat.OnPeerConnected(peerId);
            else
                _publish(new ErrorEvent($"{SafeText.ForDisplay(name)} cannot be reached: {problem}; the message waits in the outbox " +
                                        "and is sent when they connect"));
        });

    /// <summary>Sends the outbox of every peer that is connected (at start, for messages a previous run left).</summary>
    public void Start() => _background.Track(_chat.FlushAllAsync(_stopping.Token));

    /// <summary>A peer connected: what waits in its outbox goes now.</summary>
    public void OnPeerConnected(string peerId) => _chat.OnPeerConnected(peerId);

    /// <summary>Direct messages that arrived together (nicks already checked): stored in one write, then acknowledged and shown.</summary>
    public Task OnArrivedAsync(IReadOnlyList<(string PeerId, DirectEnvelope Envelope, DirectReceipt? Receipt)> arrivals,
        CancellationToken cancellationToken) =>
        _chat.OnArrivedAsync(arrivals, cancellationToken);

    /// <summary>Stops the outbox and arrivals; <see cref="Dialing"/> is disposed by the chat after file sharing, which uses it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _background.DrainAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        await _chat.DisposeAsync().ConfigureAwait(false);
    }
}
