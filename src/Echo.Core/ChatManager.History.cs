using Echo.Core.Ports;
using Echo.Core.Rooms;

namespace Echo.Core;

/// <summary>The history sync's pages: stored by <see cref="RoomChat"/> on the network loop, then shown as history.</summary>
public sealed partial class ChatManager
{
    /// <summary>A page history sync fetched: within the peer's quota, stored (its receipt settled), then what was new is shown in time order.</summary>
    private async Task ApplyHistoryAsync(NetworkEvent networkEvent, CancellationToken cancellationToken)
    {
        if (networkEvent is not HistoryPageFetched page)
            return;
        int admitted = Ingest.AdmitSynced(page.PeerId, page.Messages.Count);
        HistoryReceipt? overQuota = null;
        if (admitted < page.Messages.Count)
        {
            // Past the peer's synced-history quota: keep what it admits without moving the sync
            // position (the rest is fetched again by a later sync, at the quota's pace) and end this sync.
            overQuota = page.Receipt;
            page = page with { Messages = [.. page.Messages.Take(admitted)], Position = null, TimeCursor = null, Receipt = null };
        }
        await _roomChat.AcceptPageAsync(page, cancellationToken).ConfigureAwait(false);
        overQuota?.Refused("over this peer's history quota (/stats counts it)");
    }
}
