namespace Echo.Net.Yamux;

/// <summary>
/// Our receive window of one stream: the credit the peer may still use, the bytes delivered but not
/// yet consumed, and the window update still to be sent. Credit is granted back once half the window
/// has been consumed (as go and rust do: one update per half window, not one per frame), and the
/// window doubles when the reader drains it faster than about four round trips (auto-tuning, as go and
/// js do), within <paramref name="maxWindow"/> and what the connection's budget allows.
/// </summary>
/// <remarks>Not thread-safe: the stream calls it under its own lock. No I/O and no clock of its own.</remarks>
internal struct YamuxReceiveWindow(long now)
{
    private long _lastGrant = now;

    /// <summary>Current window size (256 KiB, more once auto-tuned).</summary>
    public uint Size { readonly get; private set; } = YamuxOptions.InitialWindow;

    /// <summary>Bytes the peer may still send.</summary>
    public uint Credit { readonly get; private set; } = YamuxOptions.InitialWindow;

    /// <summary>Bytes the peer announced that the application has not consumed yet.</summary>
    public long Buffered { readonly get; private set; }

    /// <summary>Credit granted and not yet sent in a window update.</summary>
    public uint PendingDelta { readonly get; private set; }

    /// <summary>
    /// A Data frame of <paramref name="length"/> bytes arrived: spends credit. False, with nothing
    /// changed, when the frame is beyond the credit (a protocol violation).
    /// </summary>
    public bool TrySpend(uint length)
    {
        if (length > Credit)
            return false;
        Credit -= length;
        return true;
    }

    /// <summary>Spent bytes that will be delivered to the application (not discarded).</summary>
    public void Buffer(uint length) => Buffered += length;

    /// <summary>The application consumed <paramref name="bytes"/>.</summary>
    public void Consume(long bytes) => Buffered -= bytes;

    /// <summary>The application stopped reading: nothing it left counts as buffered any more.</summary>
    public void DropBuffered() => Buffered = 0;

    /// <summary>
    /// Grants consumed bytes back when at least half the window is free, growing the window first if
    /// the reader is fast and <paramref name="budget"/> allows. True when credit was added to
    /// <see cref="PendingDelta"/>; <paramref name="grew"/> says the window doubled.
    /// </summary>
    public bool TryGrant(long now, TimeProvider time, TimeSpan rtt, long maxWindow, YamuxReceiveBudget budget, out bool grew)
    {
        grew = false;
        long delta = Size - (Credit + Buffered);
        if (delta < Size / 2)
            return false;
        if (rtt > TimeSpan.Zero && Size < maxWindow && time.GetElapsedTime(_lastGrant, now) < rtt * 4)
        {
            // The reader drains a window faster than ~4 round trips: the window, not the reader,
            // limits throughput, so double it if the budget allows.
            uint grown = (uint)Math.Min((long)Size * 2, maxWindow);
            if (budget.TryGrow(grown - Size))
            {
                Size = grown;
                delta = Size - (Credit + Buffered);
                grew = true;
            }
        }
        _lastGrant = now;
        Credit += (uint)delta;
        PendingDelta += (uint)delta;
        return true;
    }

    /// <summary>Takes the credit still to be announced (send loop).</summary>
    public uint TakePendingDelta()
    {
        uint delta = PendingDelta;
        PendingDelta = 0;
        return delta;
    }
}

/// <summary>
/// The peer's receive window as we see it: how much we may still send on one stream.
/// </summary>
/// <remarks>Not thread-safe: the stream calls it under its own lock.</remarks>
internal struct YamuxSendWindow()
{
    /// <summary>Bytes we may send before the peer grants more.</summary>
    public long Available { readonly get; private set; } = YamuxOptions.InitialWindow;

    /// <summary>
    /// A window update of <paramref name="delta"/>: false, with nothing changed, when the window would
    /// pass <paramref name="max"/> (a protocol violation, never a wrapped window).
    /// </summary>
    public bool TryAdd(uint delta, long max)
    {
        long window = Available + delta;
        if (window > max)
            return false;
        Available = window;
        return true;
    }

    /// <summary>We framed <paramref name="bytes"/> of data.</summary>
    public void Spend(long bytes) => Available -= bytes;
}
