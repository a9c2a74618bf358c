namespace Echo.Protocols.Rooms;

/// <summary>A room message as it travels in a gossipsub message's data, after decoding.</summary>
/// <param name="Text">The <c>Message</c> field.</param>
/// <param name="SenderId">The <c>SenderID</c> field: the author's peer id as the author wrote it.</param>
/// <param name="SenderNick">The <c>SenderNick</c> field, or null when absent.</param>
/// <param name="Timestamp">The optional <c>Timestamp</c> (unix milliseconds), or null when absent or unusable.</param>
/// <param name="File">Echo's optional <c>File</c> offer, or null when absent or malformed (the text still counts).</param>
/// <param name="Action">
/// True for a <c>/me</c> action (Echo's optional <c>Action</c> flag on a <c>* nick action</c> text);
/// <paramref name="Text"/> is then the action alone.
/// </param>
public sealed record RoomMessage(string Text, string SenderId, string? SenderNick, DateTimeOffset? Timestamp,
    Echo.Core.Files.FileOffer? File = null, bool Action = false);
