using Echo.Core.Events;

namespace Echo.Core.Files;

/// <summary>A peer offered a file, in <paramref name="Room"/> or directly (Room null); /get fetches it.</summary>
public sealed record FileOfferEvent(FileOffer Offer, string FromPeerId, string FromNick, string? Room) : ChatEvent;

/// <summary>We offered a file (to a room, or to one peer when <paramref name="To"/> is set).</summary>
public sealed record FileOfferedEvent(FileOffer Offer, string? Room, string? To) : ChatEvent;

/// <summary>A download went on: <paramref name="Bytes"/> of <paramref name="Size"/>, at about <paramref name="BytesPerSecond"/>.</summary>
public sealed record FileProgressEvent(string Id, string Name, long Bytes, long Size, double BytesPerSecond) : ChatEvent
{
    /// <summary>The estimated time left, or null while the rate is unknown.</summary>
    public TimeSpan? Remaining => BytesPerSecond > 0 ? TimeSpan.FromSeconds((Size - Bytes) / BytesPerSecond) : null;
}

/// <summary>A download goes on from byte <paramref name="Offset"/> (its partial file survived a broken connection or a restart).</summary>
public sealed record FileResumedEvent(string Id, string Name, long Offset, long Size) : ChatEvent;

/// <summary>
/// A download (or a file offered to one peer) waits for a direct connection to the peer, which is
/// reached through a relay only (relayed links carry text only); it starts by itself once one appears.
/// A <see cref="NoticeEvent"/>, so every face shows its text.
/// </summary>
public sealed record FileWaitingEvent(string Id, string Name, string PeerId, string Message) : NoticeEvent(Message)
{
    /// <summary>What the user is told: "waiting for a direct connection to bob; relayed links carry text only".</summary>
    public static string Waiting(string nick) => $"waiting for a direct connection to {nick}; relayed links carry text only";
}

/// <summary>A download finished and verified; the file is at <paramref name="Path"/>.</summary>
public sealed record FileDoneEvent(string Id, string Path, string Sha256) : ChatEvent;

/// <summary>A download failed for good (or an offer or /get was refused); nothing was put in the downloads folder.</summary>
public sealed record FileErrorEvent(string Id, string Message) : ChatEvent;
