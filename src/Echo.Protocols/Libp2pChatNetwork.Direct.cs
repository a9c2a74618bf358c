using Echo.Core.Chat;
using Echo.Core.Direct;
using Echo.Core.Files;
using Echo.Core.Ports;
using Echo.Net.Identity;
using Echo.Net.Pubsub;
using Echo.Protocols.Direct;
using Echo.Protocols.Files;
using Echo.Protocols.Rooms;

namespace Echo.Protocols;

/// <summary>Direct messages (<c>/echo/dm/1.0.0</c>), file offers in rooms, and file bytes (<c>/echo/file/1.0.0</c>).</summary>
public sealed partial class Libp2pChatNetwork : IDirectNetwork, IFileTransport
{
    private DirectProtocol? _direct;
    private FileProtocol? _files;

    /// <summary>The file server (tests read its counters).</summary>
    internal FileProtocol? Files => _files;

    /// <inheritdoc />
    public OfferLookup? Offers { get; set; }

    /// <inheritdoc />
    public bool IsConnected(string peerId) =>
        PeerId.TryParse(peerId, out PeerId? peer) && peer is not null && _host.GetConnection(peer) is not null;

    /// <inheritdoc />
    public Task SendDirectAsync(string peerId, DirectEnvelope envelope, CancellationToken cancellationToken)
    {
        ProtectChosenPeer(peerId, DirectTag);
        return (_direct ?? throw new ChatNetworkException("the network is not started")).SendAsync(peerId,
            envelope.Offer is { } offer ? envelope with { Offer = WithOurAddresses(offer) } : envelope, cancellationToken);
    }

    /// <summary>The offer with our addresses, so a recipient that is not connected to us can dial us.</summary>
    private FileOffer WithOurAddresses(FileOffer offer) => offer with { Addresses = OfferAddresses.Own(_host.AdvertisedAddresses) };

    /// <inheritdoc />
    public Task<(Stream Bytes, long Size)> OpenFileAsync(string peerId, string fileId, long offset, CancellationToken cancellationToken)
    {
        ProtectChosenPeer(peerId, TransferTag);
        return (_files ?? throw new ChatNetworkException("the network is not started")).OpenAsync(peerId, fileId, offset, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<ChatMessage> PublishFileOfferAsync(string room, string nick, string text, FileOffer offer,
        CancellationToken cancellationToken)
    {
        if (ChatLimits.CheckRoom(room) is { } roomError)
            throw new ChatNetworkException(roomError);
        if (ChatLimits.CheckText(text) is { } textError)
            throw new ChatNetworkException(textError);
        if (offer.Problem() is { } offerProblem)
            throw new ChatNetworkException(offerProblem);
        DateTimeOffset now = DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());
        byte[] data = RoomMessageCodec.Encode(text, LocalPeerId, nick, now, WithOurAddresses(offer));
        if (data.Length > RoomMessageCodec.MaxPayloadBytes)
            throw new ChatNetworkException("the file name is too long to announce in a room");
        PubsubMessage sent;
        try
        {
            sent = await _router.PublishAsync(RoomTopic.ForRoom(room), data, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new ChatNetworkException(e.Message, e);
        }
        return new ChatMessage(RoomMessageId(sent), room, LocalPeerId, nick, text, now, MessageOrigin.Local);
    }

    /// <summary>Registers the direct and file handlers (before the host starts, so identify announces them).</summary>
    private void StartDirect()
    {
        _direct = new DirectProtocol(_host, PostAsync, _logger);
        _files = new FileProtocol(_host, () => Offers, _options, _time, _logger);
        _host.SetStreamHandler(DirectProtocol.ProtocolId, _direct.HandleAsync, allowOnLimited: true);
        _host.SetStreamHandler(FileProtocol.ProtocolId, _files.HandleAsync, InboundStreamLimits.Files);
    }

    /// <summary>A room message that carries Echo's file offer also becomes an offer event.</summary>
    private async ValueTask PostRoomOfferAsync(string room, string from, string nick, RoomMessage decoded)
    {
        if (decoded.File is { } offer)
            await PostAsync("room:" + room, new RoomFileOffered(room, from, nick, offer), _stopping.Token).ConfigureAwait(false);
    }
}
