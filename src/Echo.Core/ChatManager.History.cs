using Echo.Core.Chat;
using Echo.Core.Ports;
using Echo.Core.Rooms;

namespace Echo.Core;

/// <summary>The history sync's pages: stored by <see cref="RoomHistoryWriter"/> on the network loop, then shown as history.</summary>
public sealed partial class ChatManager
{
    private readonly RoomHistoryWriter _historyWriter;

    /// <summary>A page history sync fetched: stored (its receipt settled), then what was new is shown in time order.</summary>
    private async Task ApplyHistoryAsync(NetworkEvent networkEvent, CancellationToken cancellationToken)
    {
        if (networkEvent is not HistoryPageFetched page)
            return;
        IReadOnlyList<ChatMessage> added = await _historyWriter.WriteAsync(page, cancellationToken).ConfigureAwait(false);
        if (added.Count > 0)
            ShowHistory(page.Room, added);
    }
}
