using System.Threading.Channels;
using Echo.Core.Chat;
using Echo.Core.Commands;
using Echo.Core.Conversations;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.Core.Rooms;
using Microsoft.Extensions.Logging;

namespace Echo.Core;

/// <summary>
/// The chat: rooms, nick, peers and messages, between the network (<see cref="IChatNetwork"/>) and
/// the user interfaces. Views call its methods (or <see cref="SubmitAsync"/> with a typed line) and
/// follow its <see cref="ChatEvent"/>s through <see cref="Subscribe"/>; every event reaches every
/// subscriber in one order. Failures of user requests become <see cref="ErrorEvent"/>s, never
/// exceptions, so a view only has to show them.
/// </summary>
public sealed partial class ChatManager : IAsyncDisposable
{
    private readonly IChatNetwork _network;
    private readonly IMessageStore? _store;
    private readonly ChatOptions _options;
    private readonly ILogger<ChatManager> _logger;
    private readonly Lock _gate = new();
    private readonly List<ChatSubscription> _subscribers = [];
    private readonly RoomChat _roomChat;
    private readonly CancellationTokenSource _stopping = new();
    private readonly StoreHealth _storeHealth;
    private readonly DirectMessaging? _direct;   // when the network has the port IDirectNetwork
    private readonly FileSharing? _files;        // when the network has the port IFileTransport
    private string _nick;
    private WebUiStartedEvent? _webUi;
    private Task _pump = Task.CompletedTask;
    private int _started;
    private int _disposed;

    /// <summary>
    /// Creates the chat over <paramref name="network"/>; nothing happens until <see cref="StartAsync"/>.
    /// With a <paramref name="store"/>, every message is stored before it is shown, joined rooms are
    /// remembered, and a room shows its last messages when joined. Direct messages and their outbox
    /// are kept in <paramref name="directStore"/> (in memory when null).
    /// </summary>
    public ChatManager(IChatNetwork network, ChatOptions options, ILogger<ChatManager> logger, IMessageStore? store = null,
        IDirectStore? directStore = null)
    {
        options.Validate();
        _network = network;
        _store = store;
        _options = options;
        _logger = logger;
        _nick = options.Nick;
        _storeHealth = new StoreHealth(Publish);
        _directory = new PeerDirectory(() => _network.LocalPeerId, PublishLocked);
        _roomChat = new RoomChat(network, store, options, logger, _gate, PublishLocked, _directory.Show, _storeHealth)
        {
            Admit = WithinQuota,   // past an author's or peer's storage budget: counted and dropped
        };
        PeerNames names = new(_gate, _directory, () => Nick);
        if (network is IDirectNetwork direct)
            _direct = new DirectMessaging(direct, options, directStore, store, _storeHealth, names, _gate, PublishLocked, RecentDirectMessages, logger);
        if (network is IFileTransport files)
            _files = new FileSharing(files, options.Files, names, _roomChat, _direct, Publish, logger);
    }

    /// <summary>Our peer id.</summary>
    public string LocalPeerId => _network.LocalPeerId;

    /// <summary>Addresses other peers can dial us at, each with /p2p/.</summary>
    public IReadOnlyList<string> ListenAddresses => _network.ListenAddresses;

    /// <summary>Cancelled when the user asked to quit (/quit) or the chat is disposed.</summary>
    public CancellationToken QuitRequested => _stopping.Token;

    /// <summary>Our current nick.</summary>
    public string Nick
    {
        get { lock (_gate) return _nick; }
    }

    /// <summary>The room typed text goes to, or null after leaving every room.</summary>
    public string? CurrentRoom => _roomChat.CurrentRoom;

    /// <summary>Joined rooms, in the order they were joined.</summary>
    public IReadOnlyList<string> Rooms => _roomChat.Rooms;

    /// <summary>Connected peers, oldest connection first, then remembered peers that are away (<see cref="PeerInfo.IsAway"/>).</summary>
    public IReadOnlyList<PeerInfo> Peers
    {
        get { lock (_gate) return _directory.All; }
    }

    /// <summary>The last messages of <paramref name="room"/> kept in memory, oldest first.</summary>
    public IReadOnlyList<ChatMessage> RecentMessages(string room) => _roomChat.RecentMessages(room);

    /// <summary>The nick a peer uses now (announced, or from its messages), if known.</summary>
    public string? NickOf(string peerId)
    {
        lock (_gate)
            return _directory.NickOf(peerId);
    }

    /// <summary>Where the web UI serves this chat, once it announced itself; a view that starts later shows it from here.</summary>
    public WebUiStartedEvent? WebUi
    {
        get { lock (_gate) return _webUi; }
    }

    /// <summary>Tells every view where the web UI serves this chat (<see cref="WebUiStartedEvent"/>).</summary>
    public void AnnounceWebUi(string url, bool remote)
    {
        lock (_gate)
        {
            _webUi = new WebUiStartedEvent(url, remote);
            PublishLocked(_webUi);
        }
    }

    /// <summary>A new feed of events from now on. Subscribe before <see cref="StartAsync"/> to miss nothing.</summary>
    public ChatSubscription Subscribe()
    {
        ChatSubscription subscription = new(_options.SubscriberCapacity, Unsubscribe);
        lock (_gate)
            _subscribers.Add(subscription);
        return subscription;
    }

    /// <summary>
    /// Starts the network (throws <see cref="ChatNetworkException"/> if it cannot listen) and joins
    /// the rooms of the last run in their order (and the default room), making current again the
    /// room that was current.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("the chat is already started");
        await StartNicksAsync(cancellationToken).ConfigureAwait(false);
        await _network.StartAsync(cancellationToken).ConfigureAwait(false);
        _pump = PumpNetworkEventsAsync(_stopping.Token);
        Log.Started(_logger, _network.LocalPeerId, _nick);
        if (_store?.Problem is { } problem)
        {
            Publish(new ErrorEvent(problem));
            if (_store.IsReadOnly)
                _storeHealth.AlreadyTold();
        }
        await _roomChat.JoinSavedAsync(cancellationToken).ConfigureAwait(false);
        _files?.Start();
        _direct?.Start();
        await _roomChat.RestoreCurrentAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Up to <paramref name="count"/> stored messages of <paramref name="room"/> older than
    /// <paramref name="before"/>, oldest first (for scrolling back past what is in memory); empty
    /// without a store or when there are none.
    /// </summary>
    public Task<IReadOnlyList<ChatMessage>> LoadOlderAsync(string room, HistoryCursor before, int count,
        CancellationToken cancellationToken) => _roomChat.LoadOlderAsync(room, before, count, cancellationToken);

    /// <summary>Runs one line as typed by the user: a slash command, or text for the current room.</summary>
    public Task SubmitAsync(string line, CancellationToken cancellationToken) => RunAsync(CommandParser.Parse(line), null, cancellationToken);

    /// <summary>
    /// Runs a command the user typed (parsed once by <see cref="CommandParser"/>) in
    /// <paramref name="conversation"/>, the conversation on the user's screen. In a direct
    /// conversation, text and a /send without a peer go to its peer; in a room (or null) text goes
    /// to the current room as the commands before it left it.
    /// </summary>
    public Task RunAsync(ChatCommand command, ConversationId? conversation, CancellationToken cancellationToken) =>
        (command, conversation?.PeerId) switch
        {
            (ChatCommand.Say say, { } peerId) => SendDirectAsync(peerId, say.Text, cancellationToken),
            (ChatCommand.Send { Target: null } send, { } peerId) => OfferFileAsync(send.Path, peerId, cancellationToken),
            (ChatCommand.Me me, { } peerId) => SendDirectActionAsync(peerId, me.Action, cancellationToken),
            _ => RunAsync(command, cancellationToken),
        };

    /// <summary>Runs a typed line a view already parsed (<see cref="CommandParser.Parse"/>), so it is parsed once.</summary>
    public Task RunAsync(ChatCommand command, CancellationToken cancellationToken) =>
        command switch
        {
            ChatCommand.Say say => SendAsync(say.Text, cancellationToken),
            ChatCommand.Connect connect => ConnectAsync(connect.Address, cancellationToken),
            ChatCommand.Join join => JoinAsync(join.Room, cancellationToken),
            ChatCommand.Leave leave => LeaveAsync(leave.Room, cancellationToken),
            ChatCommand.Nick nick => Run(() => SetNick(nick.Name)),
            ChatCommand.Msg msg => SendDirectAsync(msg.Target, msg.Text, cancellationToken),
            ChatCommand.Send send => OfferFileAsync(send.Path, send.Target, cancellationToken),
            ChatCommand.Get get => Run(() => GetFile(get.Id)),
            ChatCommand.Cancel cancel => Run(() => CancelFile(cancel.Id)),
            ChatCommand.Me me => SendActionAsync(me.Action, cancellationToken),
            ChatCommand.Away away => Run(() => SetAway(away.Reason)),
            ChatCommand.Whois whois => Run(() => Whois(whois.Target)),
            ChatCommand.Clear => Run(ClearScreen),
            ChatCommand.Peers => Run(ListPeers),
            ChatCommand.Forget forget => ForgetAsync(forget.Target, cancellationToken),
            ChatCommand.Rooms => Run(_roomChat.List),
            ChatCommand.Move move => MoveRoomAsync(move.Room, move.Position, cancellationToken),
            ChatCommand.Stats => Run(ShowStats),
            ChatCommand.Addrs => Run(ShowAddresses),
            ChatCommand.Dht => Run(ShowDht),
            ChatCommand.Search search => SearchCommandAsync(search.Text, cancellationToken),
            ChatCommand.Help => Run(() => Publish(new NoticeEvent(string.Join('\n', CommandParser.HelpLines)))),
            ChatCommand.Quit => Run(RequestQuit),
            ChatCommand.Invalid invalid => Run(() => Publish(new ErrorEvent(invalid.Message))),
            _ => Task.CompletedTask,
        };

    /// <summary>Sends <paramref name="text"/> to the current room; it is shown once the network took it.</summary>
    public Task SendAsync(string text, CancellationToken cancellationToken) => _roomChat.SendAsync(CurrentRoom, Nick, text, cancellationToken);

    /// <summary>
    /// Sends <paramref name="text"/> to <paramref name="conversation"/>: a joined room (shown once the
    /// network took it), or a peer (a direct message, which waits in the outbox while the peer is away).
    /// </summary>
    public Task SendAsync(ConversationId conversation, string text, CancellationToken cancellationToken)
    {
        if (conversation.PeerId is { } peerId)
            return SendDirectAsync(peerId, text, cancellationToken);
        return _roomChat.SendToJoinedAsync(conversation.Name, Nick, text, cancellationToken);
    }

    /// <summary>Dials <paramref name="address"/> (a multiaddr, /p2p/ optional).</summary>
    public async Task ConnectAsync(string address, CancellationToken cancellationToken)
    {
        try
        {
            ConnectResult result = await DialAsync(address, cancellationToken).ConfigureAwait(false);
            Publish(new NoticeEvent(result.AlreadyConnected ? $"already connected to {result.PeerId}" : $"connected to {result.PeerId}"));
        }
        catch (ChatNetworkException e)
        {
            Publish(new ErrorEvent($"cannot connect to {SafeText.ForDisplay(address)}: {e.Message}"));
        }
    }

    /// <summary>Joins <paramref name="room"/> if needed and makes it the current room.</summary>
    public Task JoinAsync(string room, CancellationToken cancellationToken) => _roomChat.JoinAsync(room, makeCurrent: true, cancellationToken);

    /// <summary>Leaves <paramref name="room"/> (the current room when null).</summary>
    public Task LeaveAsync(string? room, CancellationToken cancellationToken) => _roomChat.LeaveAsync(room, cancellationToken);

    /// <summary>Makes an already joined room the current one (no network traffic).</summary>
    public void SwitchRoom(string room) => _roomChat.Switch(room);

    /// <summary>Moves <paramref name="room"/> (the current room when null) to 1-based <paramref name="position"/> among the rooms (/move).</summary>
    public Task MoveRoomAsync(string? room, int position, CancellationToken cancellationToken) =>
        _roomChat.MoveAsync(room, position, cancellationToken);

    /// <summary>Changes our nick; later messages carry it.</summary>
    public void SetNick(string nick)
    {
        if (ChatLimits.CheckNick(nick) is { } nickError)
        {
            Publish(new ErrorEvent($"nick unchanged: {nickError}"));
            return;
        }
        lock (_gate)
        {
            if (_nick == nick)
                return;
            string old = _nick;
            _nick = nick;
            PublishLocked(new NickChangedEvent(old, nick));
        }
        AnnounceNick(nick);
    }

    /// <summary>Ends the chat: every subscriber sees a <see cref="QuitEvent"/> and <see cref="QuitRequested"/> fires.</summary>
    public void RequestQuit()
    {
        if (Volatile.Read(ref _disposed) != 0)
            return;
        Publish(new QuitEvent());
        _stopping.Cancel();
    }

    private void ListPeers()
    {
        IReadOnlyList<PeerInfo> peers = Peers;
        if (peers.Count == 0)
        {
            Publish(new NoticeEvent("no peers connected; /connect <multiaddr> to add one"));
            return;
        }
        DateTimeOffset now = DateTimeOffset.UtcNow;
        IEnumerable<string> lines = peers.Select(p => p.IsAway
            ? $"{SafeText.ForDisplay(p.Label),-16} {p.PeerId}  {p.Address}  away, {p.ReconnectText(now)}" +
                $"  (last seen {p.ConnectedSince.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)})"
            : $"{SafeText.ForDisplay(p.Label),-16} {p.PeerId}  {p.Address}  {p.Source.ToString().ToLowerInvariant()}" +
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{(p.IsEchoGo ? " echo-go" : "")}  since {p.ConnectedSince.ToLocalTime():HH:mm:ss}") +
            (p.RoundTrip is { } rtt ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"  {rtt.TotalMilliseconds:0.0} ms") : "") +
            (p.AwayReason is { } reason ? $"  (away: {SafeText.ForDisplay(reason)})" : "") + ViaText(p));
        Publish(new NoticeEvent($"{peers.Count} peer(s):\n" + string.Join('\n', lines)));
    }

    /// <summary>
    /// Applies the network's events in order. Messages that are already waiting are taken together,
    /// so a burst costs one write to the store rather than one per message.
    /// </summary>
    private async Task PumpNetworkEventsAsync(CancellationToken cancellationToken)
    {
        ChannelReader<NetworkEvent> events = _network.Events;
        List<ChatMessage> batch = [];
        List<DirectArrived> directBatch = [];
        try
        {
            while (await events.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (batch.Count + directBatch.Count < MaxMessageBatch && events.TryRead(out NetworkEvent? networkEvent))
                {
                    if (networkEvent is MessageArrived arrived)
                    {
                        batch.Add(arrived.Message);
                        continue;
                    }
                    if (networkEvent is DirectArrived direct)
                    {
                        directBatch.Add(direct);   // stored together: one sync for a burst of direct messages
                        continue;
                    }
                    await AcceptAsync(batch, cancellationToken).ConfigureAwait(false);
                    batch.Clear();
                    await AcceptDirectAsync(directBatch, cancellationToken).ConfigureAwait(false);
                    directBatch.Clear();
                    if (networkEvent is PeerJoined joined)
                        _direct?.OnPeerConnected(joined.Peer.PeerId);   // sends its outbox
                    _files?.Apply(networkEvent);
                    await ApplyHistoryAsync(networkEvent, cancellationToken).ConfigureAwait(false);
                    ApplyPeers(networkEvent);
                    ApplyIrc(networkEvent);
                    ApplyReachability(networkEvent);
                    ApplyRelays(networkEvent);
                    ApplyAddresses(networkEvent);
                    ApplyDht(networkEvent);
                }
                await AcceptAsync(batch, cancellationToken).ConfigureAwait(false);
                batch.Clear();
                await AcceptDirectAsync(directBatch, cancellationToken).ConfigureAwait(false);
                directBatch.Clear();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private const int MaxMessageBatch = 256;

    /// <summary>Records and shows room messages (ours or peers'): stored before shown (<see cref="RoomChat.AcceptAsync"/>).</summary>
    private Task AcceptAsync(IReadOnlyList<ChatMessage> messages, CancellationToken cancellationToken) =>
        _roomChat.AcceptAsync(messages, cancellationToken);

    /// <summary>Direct messages that arrived together: stored, then acknowledged and shown (<see cref="DirectMessaging.AcceptAsync"/>).</summary>
    private Task AcceptDirectAsync(IReadOnlyList<DirectArrived> batch, CancellationToken cancellationToken) =>
        DirectMessaging.AcceptAsync(_direct, batch, cancellationToken);

    // Direct messages (Direct/DirectMessaging) and file sharing (Files/FileSharing): requests routed to the feature.

    /// <summary>How many stored direct messages (the newest, of all conversations) fill the direct conversations at start.</summary>
    public const int RecentDirectMessages = 500;

    /// <summary>Where verified downloads are put, or null when the network cannot share files.</summary>
    public string? DownloadsDirectory => _files?.DownloadsDirectory;

    /// <summary>The file offers peers made to us that are still known, oldest first, with how far each got.</summary>
    public IReadOnlyList<KnownFileOffer> FileOffers => _files?.KnownOffers ?? [];

    /// <summary>"1.5 MiB" and the like.</summary>
    public static string FormatSize(double bytes) => SizeText.Format(bytes);

    /// <summary>The last <paramref name="count"/> stored direct messages with <paramref name="peerId"/> (with anyone when null), oldest first.</summary>
    public Task<IReadOnlyList<DirectMessage>> DirectConversationAsync(string? peerId, int count, CancellationToken cancellationToken) =>
        _direct?.StoredAsync(peerId, count, cancellationToken) ?? Task.FromResult<IReadOnlyList<DirectMessage>>([]);

    /// <summary>
    /// The direct conversations as the chat holds them (filled from the store at start, then by
    /// every message shown and acknowledged): conversation after conversation, the one with the
    /// oldest message first, each oldest first; for a face that starts (or a page that opens).
    /// </summary>
    public Task<IReadOnlyList<DirectMessage>> RecentDirectMessagesAsync(CancellationToken cancellationToken) =>
        _direct?.RecentAsync(cancellationToken) ?? Task.FromResult<IReadOnlyList<DirectMessage>>([]);

    /// <summary>The messages of the direct conversation with <paramref name="peerId"/> the chat holds, oldest first.</summary>
    public IReadOnlyList<DirectMessage> DirectMessages(string peerId) => _direct?.Conversation(peerId) ?? [];

    /// <summary>Sends a direct message to <paramref name="target"/> (a nick or a peer id); it waits in the outbox while the peer is away.</summary>
    public Task SendDirectAsync(string target, string text, CancellationToken cancellationToken) =>
        _direct?.SendAsync(target, text, cancellationToken) ?? Run(() => Publish(new ErrorEvent(DirectMessaging.NoDirectNetwork)));

    /// <summary>Offers the file at <paramref name="path"/> to the current room, or to <paramref name="target"/> alone.</summary>
    public Task OfferFileAsync(string path, string? target, CancellationToken cancellationToken) =>
        _files?.OfferAsync(path, target, cancellationToken) ?? Run(() => Publish(new ErrorEvent(DirectMessaging.NoDirectNetwork)));

    /// <summary>Downloads an offered file (by id or a unique start of it) into the downloads folder.</summary>
    public void GetFile(string id)
    {
        if (_files is null)
            Publish(new ErrorEvent(DirectMessaging.NoDirectNetwork));
        else
            _files.Get(id);
    }

    /// <summary>Stops a download (by id or a unique start of it); its partial file stays for /get to resume.</summary>
    public void CancelFile(string id)
    {
        if (_files is null)
            Publish(new ErrorEvent(DirectMessaging.NoDirectNetwork));
        else
            _files.Cancel(id);
    }

    private void Publish(ChatEvent chatEvent)
    {
        lock (_gate)
            PublishLocked(chatEvent);
    }

    private void PublishLocked(ChatEvent chatEvent)
    {
        foreach (ChatSubscription subscriber in _subscribers)
            subscriber.Post(chatEvent);
    }

    private void Unsubscribe(ChatSubscription subscription)
    {
        lock (_gate)
            _subscribers.Remove(subscription);
    }

    private static Task Run(Action action)
    {
        action();
        return Task.CompletedTask;
    }

    /// <summary>Stops reading the network, completes every subscription and disposes the network.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        if (!_stopping.IsCancellationRequested)
            await _stopping.CancelAsync().ConfigureAwait(false);
        await _pump.ConfigureAwait(false);
        await _roomChat.DrainAsync().ConfigureAwait(false);
        if (_direct is not null)
            await _direct.DisposeAsync().ConfigureAwait(false);
        if (_files is not null)
            await _files.DisposeAsync().ConfigureAwait(false);
        if (_direct is not null)
            await _direct.Dialing.DisposeAsync().ConfigureAwait(false);   // after file sharing, which uses it
        await _network.DisposeAsync().ConfigureAwait(false);
        lock (_gate)
        {
            foreach (ChatSubscription subscriber in _subscribers)
                subscriber.Complete();
            _subscribers.Clear();
        }
        _stopping.Dispose();
        _roomChat.Dispose();
    }
}
