using Echo.Core.Chat;
using Echo.Core.Conversations;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging;

namespace Echo.Core.Direct;

/// <summary>
/// Direct messages as a feature of the chat, over its port <see cref="IDirectNetwork"/>: /msg (the
/// target resolved to a peer through <see cref="PeerNames"/>), the outbox and arrivals
/// (<see cref="DirectChat"/>, with its store), the conversations in memory
/// (<see cref="DirectConversations"/>: one log per peer, each <see cref="ConversationId.Direct(string)"/>),
/// and reaching a peer a message waits for (<see cref="PeerDialing"/>, shared with file sharing).
/// </summary>
internal sealed class DirectMessaging : IAsyncDisposable
{
    /// <summary>What a request is told when the network has no direct messages or file sharing.</summary>
    internal const string NoDirectNetwork = "this network has no direct messages or file sharing";

    private readonly IDirectNetwork _network;
    private readonly DirectChat _chat;
    private readonly PeerNames _names;
    private readonly Lock _gate;
    private readonly Action<ChatEvent> _publishLocked;
    private readonly DirectConversations _conversations;
    private readonly int _loadOnStart;
    private readonly ILogger _logger;
    private readonly Lazy<Task> _loaded;
    private readonly BackgroundTasks _background = new();
    private readonly CancellationTokenSource _stopping = new();

    /// <param name="network">The direct port.</param>
    /// <param name="options">The chat's settings: the conversations keep <see cref="ChatOptions.ScrollbackPerRoom"/> messages each.</param>
    /// <param name="store">Where direct messages are kept; in memory when null.</param>
    /// <param name="history">The history store, to tell whether a missing <paramref name="store"/> means a history file that cannot keep them.</param>
    /// <param name="health">Tells the user once when the store fails.</param>
    /// <param name="names">How peers are named and resolved.</param>
    /// <param name="gate">The chat's lock: a message enters its conversation and its event is published under it, in one step.</param>
    /// <param name="publishLocked">Publishes an event (called under <paramref name="gate"/>).</param>
    /// <param name="loadOnStart">How many stored messages (the newest, of all conversations) fill the conversations at start.</param>
    /// <param name="logger">The log.</param>
    /// <remarks>
    /// Without a direct store while there is a history store, the history file cannot keep direct
    /// messages: they are then kept in memory for the session, and arrivals are not acknowledged.
    /// </remarks>
    public DirectMessaging(IDirectNetwork network, ChatOptions options, IDirectStore? store, IMessageStore? history, StoreHealth health,
        PeerNames names, Lock gate, Action<ChatEvent> publishLocked, int loadOnStart, ILogger logger)
    {
        _network = network;
        _names = names;
        _gate = gate;
        _publishLocked = publishLocked;
        _loadOnStart = loadOnStart;
        _logger = logger;
        _conversations = new DirectConversations(options.ScrollbackPerRoom);
        _loaded = new Lazy<Task>(() => LoadStoredAsync(_stopping.Token));
        Dialing = new PeerDialing(network, options.PeerConnectTimeout, Publish, logger);
        _chat = new DirectChat(network, store ?? new InMemoryDirectStore(), Publish, logger, health: health,
            notDurable: store is null && history is not null ? history.Problem ?? "the history file is read-only" : null);
    }

    /// <summary>Dials peers a request needs (file sharing uses it too).</summary>
    public PeerDialing Dialing { get; }

    /// <summary>Where a peer was seen (e.g. the addresses its file offers came from), to dial it; set by file sharing.</summary>
    public Func<string, IReadOnlyList<string>> AddressesOf { get; set; } = _ => [];

    /// <summary>A file offer arrived in a direct frame (peer id, its checked nick, the offer); set by file sharing.</summary>
    public Action<string, string, FileOffer> OfferArrived { get; set; } = (_, _, _) => { };

    /// <summary>The last <paramref name="count"/> stored direct messages with <paramref name="peerId"/> (with anyone when null), oldest first.</summary>
    public Task<IReadOnlyList<DirectMessage>> StoredAsync(string? peerId, int count, CancellationToken cancellationToken) =>
        _chat.Store.ConversationAsync(peerId, count, cancellationToken);

    /// <summary>
    /// Every conversation's messages kept in memory (conversation after conversation, the one with
    /// the oldest message first; each oldest first), once the stored ones are loaded.
    /// </summary>
    public async Task<IReadOnlyList<DirectMessage>> RecentAsync(CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
            return _conversations.All();
    }

    /// <summary>The messages of the conversation with <paramref name="peerId"/> kept in memory, oldest first.</summary>
    public IReadOnlyList<DirectMessage> Conversation(string peerId)
    {
        lock (_gate)
            return _conversations.Messages(peerId);
    }

    /// <summary>
    /// Fills the conversations from the store (once; later calls wait for that) and learns the
    /// nicks of the peers in them. A store that cannot be read leaves them to live messages.
    /// </summary>
    public Task LoadAsync(CancellationToken cancellationToken) => _loaded.Value.WaitAsync(cancellationToken);

    private async Task LoadStoredAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<DirectMessage> stored;
        try
        {
            stored = await _chat.Store.ConversationAsync(null, _loadOnStart, cancellationToken).ConfigureAwait(false);
        }
        catch (MessageStoreException e)
        {
            Log.HistoryFailed(_logger, e.Message);
            return;
        }
        lock (_gate)
            _conversations.Load(stored);
        foreach (DirectMessage message in stored)
        {
            if (!message.Outgoing)
                _names.Learn(message.PeerId, message.Nick, NickSource.History);
        }
    }

    /// <summary>
    /// Sends <paramref name="text"/> to <paramref name="target"/> (a nick or a peer id): in the
    /// outbox first, shown, sent when the peer is connected; a peer that is not is dialed, and the
    /// message waits for it.
    /// </summary>
    public Task SendAsync(string target, string text, CancellationToken cancellationToken) =>
        SendAsync(target, text, action: false, cancellationToken);

    /// <summary>The same; with <paramref name="action"/>, <paramref name="text"/> is a /me action (already checked).</summary>
    public async Task SendAsync(string target, string text, bool action, CancellationToken cancellationToken)
    {
        if (!action && ChatLimits.CheckText(text) is { } textError)
        {
            Publish(new ErrorEvent($"not sent: {textError}"));
            return;
        }
        if (_names.Resolve(target) is not { } peerId)
            return;
        await _chat.SendAsync(peerId, _names.Own, text, action, cancellationToken).ConfigureAwait(false);
        if (_network is IPeerDialer && !_network.IsConnected(peerId))
            Reach(peerId, _names.NameOf(peerId));
    }

    /// <summary>Offers a file to a connected peer in a direct frame (no text); throws <see cref="ChatNetworkException"/> when it is not taken.</summary>
    public Task SendOfferAsync(string peerId, FileOffer offer, CancellationToken cancellationToken) =>
        _network.SendDirectAsync(peerId, new DirectEnvelope(DirectIds.New(), _names.Own, DateTimeOffset.UtcNow, null, offer), cancellationToken);

    /// <summary>Dials a peer a direct message waits for; says why when it cannot be reached (the message stays in the outbox).</summary>
    private void Reach(string peerId, string name) =>
        Dialing.Reach(peerId, name, AddressesOf(peerId), problem =>
        {
            if (problem is null)
                _chat.OnPeerConnected(peerId);
            else
                Publish(new ErrorEvent($"{SafeText.ForDisplay(name)} cannot be reached: {problem}; the message waits in the outbox " +
                                       "and is sent when they connect"));
        });

    /// <summary>Sends the outbox of every peer that is connected (at start, for messages a previous run left).</summary>
    public void Start() => _background.Track(_chat.FlushAllAsync(_stopping.Token));

    /// <summary>A peer connected: what waits in its outbox goes now.</summary>
    public void OnPeerConnected(string peerId) => _chat.OnPeerConnected(peerId);

    /// <summary>
    /// Direct frames that arrived together: their nicks checked and learned, offers handed to file
    /// sharing, texts stored in one write and then shown; every receipt is settled (stored, or
    /// refused with the reason) so the network can answer the senders. Without the feature
    /// (<paramref name="direct"/> null) every receipt is refused.
    /// </summary>
    public static Task AcceptAsync(DirectMessaging? direct, IReadOnlyList<DirectArrived> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
            return Task.CompletedTask;
        if (direct is null)
        {
            foreach (DirectArrived arrived in batch)
                arrived.Receipt?.Refused(NoDirectNetwork);
            return Task.CompletedTask;
        }
        return direct.OnArrivedAsync(batch, cancellationToken);
    }

    private async Task OnArrivedAsync(IReadOnlyList<DirectArrived> batch, CancellationToken cancellationToken)
    {
        List<(string, DirectEnvelope, DirectReceipt?)> arrivals = [];
        foreach (DirectArrived arrived in batch)
        {
            string nick = ChatLimits.CheckNick(arrived.Envelope.Nick) is null ? arrived.Envelope.Nick : PeerInfo.ShortPeerId(arrived.PeerId);
            DirectEnvelope envelope = arrived.Envelope with { Nick = nick };
            _names.Learn(arrived.PeerId, nick, NickSource.Message);
            if (envelope.Offer is { } offer)
                OfferArrived(arrived.PeerId, nick, offer);
            arrivals.Add((arrived.PeerId, envelope, arrived.Receipt));
        }
        await _chat.OnArrivedAsync(arrivals, cancellationToken).ConfigureAwait(false);   // stored, then acknowledged and shown
    }

    /// <summary>
    /// Publishes an event of the outbox or arrivals: a message shown enters its conversation (and
    /// says which message it follows there), an acknowledgement marks it delivered, in one step
    /// with the event under the chat's lock, so a face's snapshot and the events agree.
    /// </summary>
    private void Publish(ChatEvent chatEvent)
    {
        lock (_gate)
        {
            switch (chatEvent)
            {
                case DirectMessageEvent shown:
                    if (!_conversations.Show(shown.Message, out string? after))
                        return;   // shown already
                    chatEvent = shown with { After = after };
                    break;
                case DirectDeliveredEvent delivered:
                    _conversations.MarkDelivered(delivered.PeerId, delivered.Id);
                    break;
            }
            _publishLocked(chatEvent);
        }
    }

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
