using Echo.Core.Chat;
using Echo.Core.Ports;
using Microsoft.Extensions.Logging;

namespace Echo.Core.Rooms;

/// <summary>
/// Stores the pages history sync fetched: the chat's writer of synced history, run on the chat's
/// one network loop beside the live messages, so the store has one writer and nothing races it.
/// A page and the sync position it ends at go to the store in one transaction; the page's receipt
/// is settled after the store returned, so history sync advances only past what is on disk.
/// </summary>
/// <param name="store">The history; null when the chat keeps nothing (then pages are shown, never stored).</param>
public sealed class RoomHistoryWriter(IMessageStore? store, ILogger logger)
{
    /// <summary>Why a page is refused when the chat has no history store.</summary>
    public const string NoStore = "the chat keeps no history";

    /// <summary>
    /// Stores <paramref name="page"/> and settles its receipt. Returns the messages to show: those
    /// the store did not have yet (all of them without a store, none when the store failed).
    /// </summary>
    public async Task<IReadOnlyList<ChatMessage>> WriteAsync(HistoryPageFetched page, CancellationToken cancellationToken)
    {
        if (store is null)
        {
            page.Receipt?.Refused(NoStore);   // shown once (the chat drops what it showed), fetched again next time
            return page.Messages;
        }
        try
        {
            IReadOnlyList<ChatMessage> added = await StoreAsync(store, page, cancellationToken).ConfigureAwait(false);
            page.Receipt?.Stored(added.Count);
            return added;
        }
        catch (MessageStoreException e)
        {
            Log.HistoryFailed(logger, e.Message);
            page.Receipt?.Refused(e.Message);
            return [];
        }
        catch (OperationCanceledException)
        {
            page.Receipt?.Refused("the chat is stopping");
            throw;
        }
    }

    private static Task<IReadOnlyList<ChatMessage>> StoreAsync(IMessageStore store, HistoryPageFetched page, CancellationToken cancellationToken)
    {
        IReadOnlyList<ChatMessage> messages = [.. page.Messages.Where(m => m.Room == page.Room)];
        if (page.Position is { } position)
            return store.AddSyncedAsync(page.Room, page.PeerId, messages, position, cancellationToken);
        if (page.TimeCursor is { } cursor)
            return store.AddSyncedAsync(page.Room, page.PeerId, messages, cursor, cancellationToken);
        return store.AddAsync(messages, cancellationToken);   // a page without a position: only its messages to keep
    }
}
