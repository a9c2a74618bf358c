namespace Echo.Net.Yamux;

// A stream's two directions, each with its own state, after hashicorp's streamState but split by
// direction because yamux half-closes: we may have sent FIN while the peer still sends, and the
// other way round. Both are guarded by the stream's lock and only move forward (Reset is final).

/// <summary>Our side of a stream: what we send.</summary>
internal enum YamuxSendState
{
    /// <summary>The application may write.</summary>
    Open,

    /// <summary>The application completed its output; FIN follows the bytes still queued.</summary>
    FinQueued,

    /// <summary>FIN is written: nothing more is sent on this stream but a window update.</summary>
    FinSent,

    /// <summary>Reset (by either side) or failed with the session: writes fail.</summary>
    Reset,
}

/// <summary>The peer's side of a stream: what we receive.</summary>
internal enum YamuxReceiveState
{
    /// <summary>The peer may send.</summary>
    Open,

    /// <summary>The peer sent FIN: readers see the end after the buffered bytes.</summary>
    FinReceived,

    /// <summary>Reset (by either side) or failed with the session: reads throw.</summary>
    Reset,
}
