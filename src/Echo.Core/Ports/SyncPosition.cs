using Echo.Core.Chat;

namespace Echo.Core.Ports;

/// <summary>
/// A position in one store's receive order: <see cref="Seq"/> numbers the messages in the order
/// that store received them, and only ever grows; <see cref="Epoch"/> names that numbering (a new
/// history file starts a new one). History sync keeps one per (room, peer) for the peer's store,
/// so nobody's clock moves it.
/// </summary>
/// <param name="Epoch">The store's random receive-order name; empty for none yet.</param>
/// <param name="Seq">The last position seen; 0 is before every message.</param>
public readonly record struct SyncPosition(string Epoch, long Seq)
{
    /// <summary>Before every message of any store.</summary>
    public static SyncPosition Start => new("", 0);
}

/// <summary>A message with its position in the receive order of the store that holds it.</summary>
public readonly record struct ReceivedMessage(long Seq, ChatMessage Message);

/// <summary>Messages in a store's receive order, with the store's <see cref="SyncPosition.Epoch"/>.</summary>
public sealed record ReceivedPage(string Epoch, IReadOnlyList<ReceivedMessage> Messages);
