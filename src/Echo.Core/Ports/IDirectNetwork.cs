using Echo.Core.Chat;
using Echo.Core.Files;

namespace Echo.Core.Ports;

/// <summary>One direct frame to a peer: a text, a file offer, or both.</summary>
/// <param name="Id">The message id (32 hex digits); the peer acknowledges it.</param>
/// <param name="Nick">The sender's nick.</param>
/// <param name="Timestamp">When it was written.</param>
/// <param name="Text">The text, or null for a bare file offer.</param>
/// <param name="Offer">A file offered to the peer, or null.</param>
public sealed record DirectEnvelope(string Id, string Nick, DateTimeOffset Timestamp, string? Text, FileOffer? Offer);

/// <summary>Which of our offered files <paramref name="peerId"/> may fetch as <paramref name="fileId"/>; null refuses.</summary>
public delegate OfferedFile? OfferLookup(string peerId, string fileId);

/// <summary>
/// The private side of the network: direct messages to one peer (acknowledged), file offers, and
/// file bytes. Implemented over libp2p by Echo.Protocols next to <see cref="IChatNetwork"/>; a
/// network without it has no /msg, /send or /get.
/// </summary>
public interface IDirectNetwork
{
    /// <summary>True while <paramref name="peerId"/> is connected.</summary>
    bool IsConnected(string peerId);

    /// <summary>
    /// Sends one frame to a connected peer and returns once the peer acknowledged it. Throws
    /// <see cref="ChatNetworkException"/> when the peer is not connected or did not acknowledge.
    /// </summary>
    Task SendDirectAsync(string peerId, DirectEnvelope envelope, CancellationToken cancellationToken);

    /// <summary>Announces <paramref name="offer"/> in <paramref name="room"/> as a message with <paramref name="text"/>.</summary>
    Task<ChatMessage> PublishFileOfferAsync(string room, string nick, string text, FileOffer offer, CancellationToken cancellationToken);

    /// <summary>
    /// Asks <paramref name="peerId"/> for the bytes of <paramref name="fileId"/> from
    /// <paramref name="offset"/> on. Returns a stream of the remaining bytes and the file's size as
    /// the sender states it; throws <see cref="ChatNetworkException"/> when the peer refuses or
    /// cannot be reached.
    /// </summary>
    Task<(Stream Bytes, long Size)> OpenFileAsync(string peerId, string fileId, long offset, CancellationToken cancellationToken);

    /// <summary>Set once before start: which file a fetch of (peer, id) may read; null refuses.</summary>
    OfferLookup? Offers { get; set; }
}
