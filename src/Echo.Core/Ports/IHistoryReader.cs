using Echo.Core.Chat;

namespace Echo.Core.Ports;

/// <summary>
/// The history as history sync reads it: what to answer a peer, and where our last sync with a
/// peer ended. Read only: what sync fetches reaches the store through the chat
/// (<see cref="HistoryPageFetched"/>), so the chat is the one writer of the history.
/// Implemented by Echo.Storage (every <see cref="IMessageStore"/> is one); safe to call from several threads.
/// </summary>
public interface IHistoryReader
{
    /// <summary>How far history sync with <paramref name="peerId"/> got in <paramref name="room"/> (a peer that answers only in time order), or null if it never ran.</summary>
    Task<HistoryCursor?> GetSyncCursorAsync(string room, string peerId, CancellationToken cancellationToken);

    /// <summary>How far history sync with <paramref name="peerId"/> got in <paramref name="room"/> in that peer's receive order, or null.</summary>
    Task<SyncPosition?> GetSyncPositionAsync(string room, string peerId, CancellationToken cancellationToken);

    /// <summary>
    /// Up to <paramref name="count"/> messages of <paramref name="room"/> that this store received
    /// after <paramref name="after"/> in its own receive order (from the start when
    /// <paramref name="after"/> belongs to another <see cref="SyncPosition.Epoch"/>), for answering
    /// history sync. The page carries this store's epoch.
    /// </summary>
    Task<ReceivedPage> ReceivedAfterAsync(string room, SyncPosition after, int count, CancellationToken cancellationToken);

    /// <summary>The ids of the <paramref name="count"/> messages of <paramref name="room"/> this store received last.</summary>
    Task<IReadOnlyList<string>> LastReceivedIdsAsync(string room, int count, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="count"/> messages right after <paramref name="after"/>, oldest first.</summary>
    Task<IReadOnlyList<ChatMessage>> AfterAsync(string room, HistoryCursor after, int count, CancellationToken cancellationToken);
}
