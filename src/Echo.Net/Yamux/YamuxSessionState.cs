namespace Echo.Net.Yamux;

/// <summary>
/// Where a <see cref="YamuxSession"/> is in its life. One field holds it, written under the session's
/// lock and read without it; it only moves forward (New, Open, GoAwayReceived, then Draining or Closed).
/// </summary>
internal enum YamuxSessionState
{
    /// <summary>Constructed, loops not started.</summary>
    New,

    /// <summary>Running; streams may be opened both ways.</summary>
    Open,

    /// <summary>Running, but the peer sent GoAway(normal): it accepts no new streams from us; existing ones carry on.</summary>
    GoAwayReceived,

    /// <summary>Ended gracefully (CloseAsync): the send loop writes what is already queued, then GoAway.</summary>
    Draining,

    /// <summary>Ended: streams failed at once, nothing more is written but GoAway.</summary>
    Closed,
}

internal static class YamuxSessionStateExtensions
{
    /// <summary>True once the session has ended, gracefully or not.</summary>
    public static bool IsEnded(this YamuxSessionState state) => state >= YamuxSessionState.Draining;
}
