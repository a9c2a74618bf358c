using Echo.Core.Chat;

namespace Echo.Core.Ports;

/// <summary>
/// A page of <paramref name="Room"/>'s history that sync fetched from <paramref name="PeerId"/> and
/// verified (each message carries its author's checked signature), in the peer's order. The chat
/// stores the messages together with how far sync got (<see cref="Position"/> or
/// <see cref="TimeCursor"/>) in one transaction, settles <see cref="Receipt"/>, then shows what was
/// new as history. Sync asks for the next page only after the receipt says stored, so a page that
/// was not stored is fetched again by the next sync.
/// </summary>
public sealed record HistoryPageFetched(string Room, string PeerId, IReadOnlyList<ChatMessage> Messages) : NetworkEvent
{
    /// <summary>How far sync got in the peer's receive order; null for a peer that answers only in time order.</summary>
    public SyncPosition? Position { get; init; }

    /// <summary>How far sync got with a peer that answers only in time order; null when <see cref="Position"/> is set.</summary>
    public HistoryCursor? TimeCursor { get; init; }

    /// <summary>Settled by the chat once the page is stored (or refused); null when nobody waits for it.</summary>
    public HistoryReceipt? Receipt { get; init; }
}

/// <summary>
/// What became of a <see cref="HistoryPageFetched"/>: the chat settles it once the page and its
/// sync position are durably stored, or refuses it with a reason. Sync moves on only after
/// <see cref="Stored"/>. The first outcome wins.
/// </summary>
public sealed class HistoryReceipt
{
    private readonly TaskCompletionSource<string?> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _added;

    /// <summary>Completes with null once stored, or with why it was not.</summary>
    public Task<string?> Outcome => _outcome.Task;

    /// <summary>How many of the page's messages the store did not have yet (valid once <see cref="Outcome"/> completed with null).</summary>
    public int Added => Volatile.Read(ref _added);

    /// <summary>The page and its position are on disk; <paramref name="added"/> of its messages were new.</summary>
    public void Stored(int added)
    {
        if (_outcome.Task.IsCompleted)
            return;
        Volatile.Write(ref _added, added);
        _outcome.TrySetResult(null);
    }

    /// <summary>Nothing of the page was stored: the position stays where it was and the next sync fetches it again.</summary>
    public void Refused(string reason) => _outcome.TrySetResult(reason);
}
