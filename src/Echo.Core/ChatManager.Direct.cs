using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Core;

/// <summary>Direct messages (/msg) and file sharing (/send, /get), when the network offers <see cref="IDirectNetwork"/>.</summary>
public sealed partial class ChatManager
{
    private const string NoDirectNetwork = "this network has no direct messages or file sharing";

    private readonly DirectChat? _direct;
    private readonly FileTransfers? _files;
    private readonly PeerDialing? _dialing;

    /// <summary>Where verified downloads are put, or null when the network cannot share files.</summary>
    public string? DownloadsDirectory => _files?.DownloadsDirectory;

    /// <remarks>
    /// Without a direct store while there is a history store, the history file cannot keep direct
    /// messages: they are then kept in memory for the session, and arrivals are not acknowledged.
    /// </remarks>
    private static (DirectChat?, FileTransfers?, PeerDialing?) CreateDirect(IChatNetwork network, ChatOptions options, IDirectStore? store,
        IMessageStore? history, StoreHealth health, Action<ChatEvent> publish, Microsoft.Extensions.Logging.ILogger logger)
    {
        if (network is not IDirectNetwork direct)
            return (null, null, null);
        PeerDialing dialing = new(direct, options.PeerConnectTimeout, publish, logger);
        return (new DirectChat(direct, store ?? new InMemoryDirectStore(), publish, logger, health: health,
                notDurable: store is null && history is not null ? history.Problem ?? "the history file is read-only" : null),
            new FileTransfers(direct, options.Files, publish, logger, dialing), dialing);
    }

    /// <summary>The last <paramref name="count"/> direct messages with <paramref name="peerId"/> (with anyone when null), oldest first.</summary>
    public Task<IReadOnlyList<DirectMessage>> DirectConversationAsync(string? peerId, int count, CancellationToken cancellationToken) =>
        _direct?.Store.ConversationAsync(peerId, count, cancellationToken) ?? Task.FromResult<IReadOnlyList<DirectMessage>>([]);

    /// <summary>Sends a direct message to <paramref name="target"/> (a nick or a peer id); it waits in the outbox while the peer is away.</summary>
    public async Task SendDirectAsync(string target, string text, CancellationToken cancellationToken)
    {
        if (_direct is null)
        {
            Publish(new ErrorEvent(NoDirectNetwork));
            return;
        }
        if (ChatLimits.CheckText(text) is { } textError)
        {
            Publish(new ErrorEvent($"not sent: {textError}"));
            return;
        }
        if (ResolvePeer(target) is not { } peerId)
            return;
        await _direct.SendAsync(peerId, Nick, text, cancellationToken).ConfigureAwait(false);
        if (_dialing is not null && _network is IDirectNetwork network and IPeerDialer && !network.IsConnected(peerId))
            ReachForDirect(peerId);
    }

    /// <summary>Dials a peer a direct message waits for; says why when it cannot be reached (the message stays in the outbox).</summary>
    private void ReachForDirect(string peerId)
    {
        string name = NickOf(peerId) ?? PeerInfo.ShortPeerId(peerId);
        _dialing!.Reach(peerId, name, _files?.AddressesOf(peerId) ?? [], problem =>
        {
            if (problem is null)
                _direct!.OnPeerConnected(peerId);
            else
                Publish(new ErrorEvent($"{SafeText.ForDisplay(name)} cannot be reached: {problem}; the message waits in the outbox " +
                                       "and is sent when they connect"));
        });
    }

    /// <summary>Offers the file at <paramref name="path"/> to the current room, or to <paramref name="target"/> alone.</summary>
    public async Task OfferFileAsync(string path, string? target, CancellationToken cancellationToken)
    {
        if (_files is null || _network is not IDirectNetwork network)
        {
            Publish(new ErrorEvent(NoDirectNetwork));
            return;
        }
        string? peerId = null;
        string? room = null;
        if (target is not null)
        {
            if ((peerId = ResolvePeer(target)) is null)
                return;
            if (!network.IsConnected(peerId))
            {
                Publish(new ErrorEvent($"not offered: {PeerInfo.ShortPeerId(peerId)} is not connected"));
                return;
            }
        }
        else if ((room = CurrentRoom) is null)
        {
            Publish(new ErrorEvent("not offered: you are in no room; /join <room> first or name a peer"));
            return;
        }
        try
        {
            FileOffer offer = await _files.OfferAsync(path, peerId, cancellationToken).ConfigureAwait(false);
            if (peerId is not null)
            {
                await network.SendDirectAsync(peerId, new DirectEnvelope(DirectIds.New(), Nick, DateTimeOffset.UtcNow, null, offer),
                    cancellationToken).ConfigureAwait(false);
            }
            else
            {
                string text = $"offers {offer.Name} ({FormatSize(offer.Size)}): /get {offer.Id}";
                ChatMessage sent = await network.PublishFileOfferAsync(room!, Nick, text, offer, cancellationToken).ConfigureAwait(false);
                await AcceptAsync([sent], cancellationToken).ConfigureAwait(false);
            }
            Publish(new FileOfferedEvent(offer, room, peerId));
        }
        catch (Exception e) when (e is FileSharingException or ChatNetworkException)
        {
            Publish(new ErrorEvent($"not offered: {e.Message}"));
        }
    }

    /// <summary>How many direct messages <see cref="RecentDirectMessagesAsync"/> returns.</summary>
    public const int RecentDirectMessages = 500;

    /// <summary>
    /// The newest direct messages of every conversation, oldest first, for a face that starts (or a
    /// page that opens) to list the conversations of earlier runs; empty when the store cannot be read.
    /// </summary>
    public async Task<IReadOnlyList<DirectMessage>> RecentDirectMessagesAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await DirectConversationAsync(null, RecentDirectMessages, cancellationToken).ConfigureAwait(false);
        }
        catch (MessageStoreException e)
        {
            Log.HistoryFailed(_logger, e.Message);
            return [];
        }
    }

    /// <summary>The file offers peers made to us that are still known, oldest first, with how far each got.</summary>
    public IReadOnlyList<KnownFileOffer> FileOffers => _files?.KnownOffers() ?? [];

    /// <summary>Downloads an offered file (by id or a unique start of it) into the downloads folder.</summary>
    public void GetFile(string id)
    {
        if (_files is null)
            Publish(new ErrorEvent(NoDirectNetwork));
        else
            _files.Get(id);
    }

    /// <summary>Stops a download (by id or a unique start of it); its partial file stays for /get to resume.</summary>
    public void CancelFile(string id)
    {
        if (_files is null)
            Publish(new ErrorEvent(NoDirectNetwork));
        else
            _files.Cancel(id);
    }

    /// <summary>"1.5 MiB" and the like.</summary>
    public static string FormatSize(double bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        int unit = 0;
        while (bytes >= 1024 && unit < units.Length - 1)
        {
            bytes /= 1024;
            unit++;
        }
        return unit == 0 ? $"{bytes:0} B" : $"{bytes:0.0} {units[unit]}";
    }

    private void StartDirect()
    {
        _files?.Start();
        if (_direct is not null)
            _direct.Track(_direct.FlushAllAsync(_stopping.Token));
    }

    /// <summary>The network's direct events, and connections (which send the outbox and resume downloads).</summary>
    private async Task ApplyDirectAsync(NetworkEvent networkEvent, CancellationToken cancellationToken)
    {
        switch (networkEvent)
        {
            case PeerJoined joined:
                _direct?.OnPeerConnected(joined.Peer.PeerId);
                _files?.OnPeerConnected(joined.Peer.PeerId);
                break;
            case DirectArrived arrived:
                await AcceptDirectAsync([arrived], cancellationToken).ConfigureAwait(false);
                break;
            case RoomFileOffered offered:
                bool inRoom;
                lock (_gate)
                    inRoom = _rooms.Contains(offered.Room);
                if (inRoom && _files?.OnOffer(offered.Offer, offered.PeerId, offered.Nick, offered.Room) == true)
                    Publish(new FileOfferEvent(offered.Offer, offered.PeerId, offered.Nick, offered.Room));
                break;
        }
    }

    /// <summary>
    /// Direct messages that arrived together: offers are taken, texts stored in one write and then
    /// shown; every receipt is settled (stored, or refused with the reason) so the network can answer
    /// the senders.
    /// </summary>
    private async Task AcceptDirectAsync(IReadOnlyList<DirectArrived> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
            return;
        if (_direct is null)
        {
            foreach (DirectArrived arrived in batch)
                arrived.Receipt?.Refused(NoDirectNetwork);
            return;
        }
        List<(string, DirectEnvelope, DirectReceipt?)> arrivals = [];
        foreach (DirectArrived arrived in batch)
        {
            string nick = ChatLimits.CheckNick(arrived.Envelope.Nick) is null ? arrived.Envelope.Nick : PeerInfo.ShortPeerId(arrived.PeerId);
            DirectEnvelope envelope = arrived.Envelope with { Nick = nick };
            LearnDirectNick(arrived.PeerId, nick);
            if (envelope.Offer is { } offer && _files?.OnOffer(offer, arrived.PeerId, nick, room: null) == true)
                Publish(new FileOfferEvent(offer, arrived.PeerId, nick, null));
            arrivals.Add((arrived.PeerId, envelope, arrived.Receipt));
        }
        await _direct.OnArrivedAsync(arrivals, cancellationToken).ConfigureAwait(false);   // stored, then acknowledged and shown
    }

    /// <summary>Base58 text of peer-id length (the network checks it properly when it dials).</summary>
    private static bool LooksLikePeerId(string text) =>
        text.Length is >= 40 and <= 128 && text.All(c => char.IsAsciiLetterOrDigit(c) && c is not ('0' or 'O' or 'I' or 'l'));

    private async ValueTask DisposeDirectAsync()
    {
        if (_direct is not null)
            await _direct.DisposeAsync().ConfigureAwait(false);
        if (_files is not null)
            await _files.DisposeAsync().ConfigureAwait(false);
        if (_dialing is not null)
            await _dialing.DisposeAsync().ConfigureAwait(false);
    }
}
