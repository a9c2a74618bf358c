using Echo.Core.Ports;

namespace Echo.Protocols.History;

/// <summary>
/// The arithmetic of history sync's cursors, none of which can overflow or be moved by a clock.
/// With a peer that answers in its receive order the cursor is a <see cref="SyncPosition"/> and is
/// only ever compared, never computed. With an older peer that answers only in (ts, id) order the
/// cursor is a time, which is capped at our own clock when stored and read, and stepped back by the
/// overlap with saturation.
/// </summary>
internal static class HistorySyncCursor
{
    /// <summary>
    /// Where a sync in time order starts: <paramref name="overlap"/> before the saved cursor (a
    /// message can reach the peer after newer ones), never after <paramref name="now"/>, and from the
    /// start when there is none or it is far in the past.
    /// </summary>
    public static HistoryCursor TimeOrderStart(HistoryCursor? saved, TimeSpan overlap, DateTimeOffset now)
    {
        if (saved is not { } cursor)
            return HistoryCursor.Start;
        long ts = Math.Min(cursor.TimestampMs, now.ToUnixTimeMilliseconds());
        long back = (long)Math.Max(0, overlap.TotalMilliseconds);
        return ts < long.MinValue + back ? HistoryCursor.Start : new HistoryCursor(ts - back, "");
    }

    /// <summary>
    /// The time-order cursor to store after a page that ended at <paramref name="next"/>: a message
    /// dated after <paramref name="now"/> (a wrong or hostile clock) does not carry it past now.
    /// </summary>
    public static HistoryCursor TimeOrderToStore(HistoryCursor next, DateTimeOffset now)
    {
        long nowMs = now.ToUnixTimeMilliseconds();
        return next.TimestampMs > nowMs ? new HistoryCursor(nowMs, "") : next;
    }

    /// <summary>
    /// The position after a receive-order page: null when the answer breaks the rules (a position
    /// beyond what a store can number, or one that did not move forward while there is more).
    /// </summary>
    public static SyncPosition? Next(SyncPosition asked, string epoch, ulong nextSeq, bool more)
    {
        if (nextSeq > long.MaxValue)
            return null;
        SyncPosition next = new(epoch, (long)nextSeq);
        return more && epoch == asked.Epoch && next.Seq <= asked.Seq ? null : next;
    }

    /// <summary>Where a responder with <paramref name="epoch"/> starts for a request that names <paramref name="askedEpoch"/> and <paramref name="askedSeq"/>.</summary>
    public static SyncPosition ResponderStart(string epoch, string askedEpoch, ulong askedSeq) =>
        epoch.Length > 0 && askedEpoch == epoch ? new SyncPosition(epoch, (long)Math.Min(askedSeq, long.MaxValue)) : new SyncPosition(epoch, 0);
}
