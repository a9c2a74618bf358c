using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Files;
using Echo.Core.Peers;
using Echo.Core.Ports;

namespace Echo.Core;

/// <summary>
/// The chat's side of direct messages (<see cref="DirectMessaging"/>, which owns their state) and
/// file sharing (/send, /get, <see cref="FileTransfers"/>), when the network offers <see cref="IDirectNetwork"/>:
/// nicks resolved to peers, and the offers a direct message or a room carries.
/// </summary>
public sealed partial class ChatManager
{
    private const string NoDirectNetwork = DirectMessaging.NoDirectNetwork;

    private readonly DirectMessaging? _direct;
    private readonly FileTransfers? _files;

    /// <summary>Where verified downloads are put, or null when the network cannot share files.</summary>
    public string? DownloadsDirectory => _files?.DownloadsDirectory;

    private static (DirectMessaging?, FileTransfers?) CreateDirect(IChatNetwork network, ChatOptions options, IDirectStore? store,
        IMessageStore? history, StoreHealth health, Action<ChatEvent> publish, Microsoft.Extensions.Logging.ILogger logger)
    {
        if (network is not IDirectNetwork direct)
            return (null, null);
        DirectMessaging messaging = new(direct, options, store, history, health, publish, logger);
        FileTransfers files = new(direct, options.Files, publish, logger, messaging.Dialing.ConnectAsync);
        messaging.AddressesOf = files.AddressesOf;
        return (messaging, files);
    }

    /// <summary>The last <paramref name="count"/> direct messages with <paramref name="peerId"/> (with anyone when null), oldest first.</summary>
    public Task<IReadOnlyList<DirectMessage>> DirectConversationAsync(string? peerId, int count, CancellationToken cancellationToken) =>
        _direct?.ConversationAsync(peerId, count, cancellationToken) ?? Task.FromResult<IReadOnlyList<DirectMessage>>([]);

    /// <summary>Sends a direct message to <paramref name="target"/> (a nick or a peer id); it waits in the outbox while the peer is away.</summary>
    public Task SendDirectAsync(string target, string text, CancellationToken cancellationToken) =>
        SendDirectAsync(target, text, action: false, cancellationToken);

    /// <summary>Sends a direct message, or a /me action (already checked) when <paramref name="action"/>.</summary>
    private async Task SendDirectAsync(string target, string text, bool action, CancellationToken cancellationToken)
    {
        if (_direct is null)
        {
            Publish(new ErrorEvent(NoDirectNetwork));
            return;
        }
        if (!action && ChatLimits.CheckText(text) is { } textError)
        {
            Publish(new ErrorEvent($"not sent: {textError}"));
            return;
        }
        if (ResolvePeer(target) is not { } peerId)
            return;
        await _direct.SendAsync(peerId, Nick, NickOf(peerId) ?? PeerInfo.ShortPeerId(peerId), text, action, cancellationToken).ConfigureAwait(false);
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
    public static string FormatSize(double bytes) => SizeText.Format(bytes);

    private void StartDirect()
    {
        _files?.Start();
        _direct?.Start();
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
                if (_roomChat.IsJoined(offered.Room) && _files?.OnOffer(offered.Offer, offered.PeerId, offered.Nick, offered.Room) == true)
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

    private async ValueTask DisposeDirectAsync()
    {
        if (_direct is not null)
            await _direct.DisposeAsync().ConfigureAwait(false);
        if (_files is not null)
            await _files.DisposeAsync().ConfigureAwait(false);
        if (_direct is not null)
            await _direct.Dialing.DisposeAsync().ConfigureAwait(false);
    }
}
