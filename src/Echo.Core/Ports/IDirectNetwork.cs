using Echo.Core.Chat;
using Echo.Core.Files;

namespace Echo.Core.Ports;

/// <summary>One direct frame to a peer: a text, a file offer, or both.</summary>
/// <param name="Id">The message id (32 hex digits); the peer acknowledges it.</param>
/// <param name="Nick">The sender's nick.</param>
/// <param name="Timestamp">When it was written.</param>
/// <param name="Text">The text, or null for a bare file offer.</param>
/// <param name="Offer">A file offered to the peer, or null.</param>
public sealed record DirectEnvelope(string Id, string Nick, DateTimeOffset Timestamp, string? Text, FileOffer? Offer)
{
    /// <summary>
    /// True for a <c>/me</c> action (<see cref="ChatAction"/>): <see cref="Text"/> is the action alone;
    /// on the wire it travels as the readable <c>* nick action</c> with a flag, as in rooms.
    /// </summary>
    public bool Action { get; init; }
}

/// <summary>
/// The private side of the network: direct messages to one peer (acknowledged), file offers, and
/// file bytes (<see cref="IFileTransport"/>). Implemented over libp2p by Echo.Protocols next to
/// <see cref="IChatNetwork"/>; a network without it has no /msg, /send or /get.
/// </summary>
public interface IDirectNetwork : IFileTransport
{
    /// <summary>
    /// Sends one frame to a connected peer and returns once the peer acknowledged it. Throws
    /// <see cref="ChatNetworkException"/> when the peer is not connected or did not acknowledge.
    /// </summary>
    Task SendDirectAsync(string peerId, DirectEnvelope envelope, CancellationToken cancellationToken);

    /// <summary>Announces <paramref name="offer"/> in <paramref name="room"/> as a message with <paramref name="text"/>.</summary>
    Task<ChatMessage> PublishFileOfferAsync(string room, string nick, string text, FileOffer offer, CancellationToken cancellationToken);
}
