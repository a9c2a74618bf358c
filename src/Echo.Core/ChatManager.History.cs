using Echo.Core.Ports;
using Echo.Core.Rooms;

namespace Echo.Core;

/// <summary>The history sync's pages: stored by <see cref="RoomChat"/> on the network loop, then shown as history.</summary>
public sealed partial class ChatManager
{
    /// <summary>A page history sync fetched: stored (its receipt settled), then what was new is shown in time order.</summary>
    private async Task ApplyHistoryAsync(NetworkEvent networkEvent, CancellationToken cancellationToken)
    {
        if (networkEvent is HistoryPageFetched page)
            await _roomChat.AcceptPageAsync(page, cancellationToken).ConfigureAwait(false);
    }
}
