using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Events;
using Echo.Core.Peers;
using Echo.Core.Ports;
using Echo.Core.Rooms;
using Microsoft.Extensions.Logging;

namespace Echo.Core.Files;

/// <summary>
/// File sharing as a feature of the chat, over its port <see cref="IFileTransport"/>: /send (to the
/// current room, or to one peer through direct messages), the offers that arrive in a room or a
/// direct frame, /get and /cancel; the transfers themselves are <see cref="FileTransfers"/>. A peer
/// a download needs is reached through the direct messages' <see cref="PeerDialing"/>.
/// </summary>
internal sealed class FileSharing : IAsyncDisposable
{
    private readonly IFileTransport _transport;
    private readonly FileTransfers _transfers;
    private readonly PeerNames _names;
    private readonly RoomChat _rooms;
    private readonly DirectMessaging? _direct;
    private readonly Action<ChatEvent> _publish;

    /// <param name="transport">The file port.</param>
    /// <param name="options">Where downloads go and their limits.</param>
    /// <param name="names">How peers are named and resolved.</param>
    /// <param name="rooms">The rooms: a room offer is announced in the current one and shown as our message.</param>
    /// <param name="direct">Direct messages, which carry offers to one peer and dial peers; null when the network has none.</param>
    /// <param name="publish">Where the file events go.</param>
    /// <param name="logger">The log.</param>
    public FileSharing(IFileTransport transport, FileSharingOptions options, PeerNames names, RoomChat rooms, DirectMessaging? direct,
        Action<ChatEvent> publish, ILogger logger)
    {
        _transport = transport;
        _names = names;
        _rooms = rooms;
        _direct = direct;
        _publish = publish;
        _transfers = new FileTransfers(transport, options, publish, logger, direct is null ? NotConnectedAsync : direct.Dialing.ConnectAsync);
        if (direct is not null)
        {
            direct.AddressesOf = _transfers.AddressesOf;
            direct.OfferArrived = OnDirectOffer;
        }
    }

    /// <summary>The downloads folder as a full path.</summary>
    public string DownloadsDirectory => _transfers.DownloadsDirectory;

    /// <summary>The file offers peers made to us that are still known, oldest first, with how far each got.</summary>
    public IReadOnlyList<KnownFileOffer> KnownOffers => _transfers.KnownOffers();

    /// <summary>Loads our offers and resumes the downloads a previous run left unfinished.</summary>
    public void Start() => _transfers.Start();

    /// <inheritdoc cref="FileTransfers.Get"/>
    public void Get(string id) => _transfers.Get(id);

    /// <inheritdoc cref="FileTransfers.Cancel"/>
    public void Cancel(string id) => _transfers.Cancel(id);

    /// <summary>Offers the file at <paramref name="path"/> to the current room, or to <paramref name="target"/> (a nick or a peer id) alone.</summary>
    public async Task OfferAsync(string path, string? target, CancellationToken cancellationToken)
    {
        string? peerId = null;
        string? room = null;
        if (target is not null)
        {
            if ((peerId = _names.Resolve(target)) is null)
                return;
            if (_direct is null)
            {
                _publish(new ErrorEvent($"not offered: {DirectMessaging.NoDirectNetwork}"));
                return;
            }
            if (!_transport.IsConnected(peerId))
            {
                _publish(new ErrorEvent($"not offered: {PeerInfo.ShortPeerId(peerId)} is not connected"));
                return;
            }
        }
        else if ((room = _rooms.CurrentRoom) is null)
        {
            _publish(new ErrorEvent("not offered: you are in no room; /join <room> first or name a peer"));
            return;
        }
        try
        {
            FileOffer offer = await _transfers.OfferAsync(path, peerId, cancellationToken).ConfigureAwait(false);
            if (peerId is not null)
            {
                await _direct!.SendOfferAsync(peerId, offer, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                string text = $"offers {offer.Name} ({SizeText.Format(offer.Size)}): /get {offer.Id}";
                ChatMessage sent = await _transport.PublishFileOfferAsync(room!, _names.Own, text, offer, cancellationToken).ConfigureAwait(false);
                await _rooms.AcceptAsync([sent], cancellationToken).ConfigureAwait(false);
            }
            _publish(new FileOfferedEvent(offer, room, peerId));
            // Relayed links carry text only: each peer reached through a relay alone waits for a direct connection.
            IEnumerable<string> relayed = peerId is not null ? _transport.IsRelayedOnly(peerId) ? [peerId] : []
                : _transport.RelayedOnlyIn(room!);
            foreach (string waiting in relayed)
                _publish(new FileWaitingEvent(offer.Id, offer.Name, waiting,
                    $"{SafeText.ForDisplay(offer.Name)}: " + FileWaitingEvent.Waiting(SafeText.ForDisplay(_names.NameOf(waiting)))));
        }
        catch (Exception e) when (e is FileSharingException or ChatNetworkException)
        {
            _publish(new ErrorEvent($"not offered: {e.Message}"));
        }
    }

    /// <summary>The network's events that concern files: offers made in a joined room, and connections (which resume downloads).</summary>
    public void Apply(NetworkEvent networkEvent)
    {
        switch (networkEvent)
        {
            case PeerJoined joined:
                _transfers.OnPeerConnected(joined.Peer.PeerId);
                break;
            case PeerPathChanged { Relayed: false } direct:
                _transfers.OnPeerConnected(direct.PeerId);   // downloads waiting for a direct connection go on
                break;
            case RoomFileOffered offered:
                if (_rooms.IsJoined(offered.Room) && _transfers.OnOffer(offered.Offer, offered.PeerId, offered.Nick, offered.Room))
                    _publish(new FileOfferEvent(offered.Offer, offered.PeerId, offered.Nick, offered.Room));
                break;
        }
    }

    private void OnDirectOffer(string peerId, string nick, FileOffer offer)
    {
        if (_transfers.OnOffer(offer, peerId, nick, room: null))
            _publish(new FileOfferEvent(offer, peerId, nick, null));
    }

    private Task<string?> NotConnectedAsync(string peerId, string nick, IReadOnlyList<string> hints, CancellationToken cancellationToken) =>
        Task.FromResult(_transport.IsConnected(peerId) ? null : "it is not connected");

    /// <summary>Stops the downloads; their partial files stay for the next run.</summary>
    public ValueTask DisposeAsync() => _transfers.DisposeAsync();
}
