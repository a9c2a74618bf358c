using Echo.Core.Chat;
using Echo.Core.Ports;

namespace Echo.Core.Files;

/// <summary>Which of our offered files <paramref name="peerId"/> may fetch as <paramref name="fileId"/>; null refuses.</summary>
public delegate OfferedFile? OfferLookup(string peerId, string fileId);

/// <summary>
/// Makes sure a peer a download needs is connected: null once it is, else why it could not be
/// reached (the chat dials it with <paramref name="hints"/>, the addresses of its offer, first).
/// </summary>
public delegate Task<string?> ReachPeer(string peerId, string nick, IReadOnlyList<string> hints, CancellationToken cancellationToken);

/// <summary>
/// The file side of the network: file bytes from a peer, and which of our files a peer may fetch.
/// Implemented over libp2p (<c>/echo/file/1.0.0</c>) by Echo.Protocols next to
/// <see cref="IChatNetwork"/>; a network without it has no /send or /get. Offers to one peer go
/// through the direct port (<see cref="Direct.IDirectNetwork"/>).
/// </summary>
public interface IFileTransport
{
    /// <summary>True while <paramref name="peerId"/> is connected.</summary>
    bool IsConnected(string peerId);

    /// <summary>
    /// True while <paramref name="peerId"/> is connected through a relay only: a relayed (limited)
    /// link carries text only, so a transfer waits for a direct connection.
    /// </summary>
    bool IsRelayedOnly(string peerId) => false;

    /// <summary>
    /// The peers in <paramref name="room"/> we reach through a relay only: a file offered to the room
    /// waits for a direct connection to each of them.
    /// </summary>
    IReadOnlyList<string> RelayedOnlyIn(string room) => [];

    /// <summary>
    /// Asks <paramref name="peerId"/> for the bytes of <paramref name="fileId"/> from
    /// <paramref name="offset"/> on. Returns a stream of the remaining bytes and the file's size as
    /// the sender states it; throws <see cref="ChatNetworkException"/> when the peer refuses or
    /// cannot be reached.
    /// </summary>
    Task<(Stream Bytes, long Size)> OpenFileAsync(string peerId, string fileId, long offset, CancellationToken cancellationToken);

    /// <summary>Set once before start: which file a fetch of (peer, id) may read; null refuses.</summary>
    OfferLookup? Offers { get; set; }

    /// <summary>Announces <paramref name="offer"/> in <paramref name="room"/> as a message with <paramref name="text"/>.</summary>
    Task<ChatMessage> PublishFileOfferAsync(string room, string nick, string text, FileOffer offer, CancellationToken cancellationToken);
}
