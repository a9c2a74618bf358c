namespace Echo.Net.Transport.Tcp;

/// <summary>
/// Bytes of large receive buffers (above <see cref="SocketReader.UnmeteredSize"/>) that the socket
/// readers of this process may hold at once. A reader grows past the unmetered size only with a share
/// of it, and gives the share back with the buffer, so however many connections push data at us,
/// their receive buffers stay within this allowance plus the unmetered size each.
/// </summary>
/// <remarks>
/// Outside the memory budget (docs/LIMITS.md, L-tcp-buffers): these bytes are in flight between the
/// socket and Noise, not buffered for an application. Without the allowance 64 connections pushing at
/// once each received into 1 MiB buffers (2 MiB when a partial frame had to be kept) and the target's
/// heap grew by 113 MiB of such buffers, which the shared array pool then kept after they left.
/// </remarks>
internal sealed class ReceiveAllowance
{
    /// <summary>Sixteen connections receiving 1 MiB at a time: more bulk transfers at once share less.</summary>
    internal const long DefaultCapacity = 16L * 1024 * 1024;

    private long _inUse;

    public ReceiveAllowance(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        Capacity = capacity;
    }

    /// <summary>The allowance every socket reader of the process shares.</summary>
    public static ReceiveAllowance Shared { get; } = new(DefaultCapacity);

    public long Capacity { get; }

    /// <summary>Bytes taken and not given back.</summary>
    public long InUse => Interlocked.Read(ref _inUse);

    /// <summary>Takes <paramref name="bytes"/> if they fit in what is left; false (nothing taken) otherwise.</summary>
    public bool TryTake(long bytes)
    {
        long used = Interlocked.Read(ref _inUse);
        while (true)
        {
            if (used + bytes > Capacity)
                return false;
            long seen = Interlocked.CompareExchange(ref _inUse, used + bytes, used);
            if (seen == used)
                return true;
            used = seen;
        }
    }

    /// <summary>Takes <paramref name="bytes"/> even past the capacity (a buffer that cannot be smaller).</summary>
    public void Take(long bytes) => Interlocked.Add(ref _inUse, bytes);

    /// <summary>Gives back what <see cref="TryTake"/> or <see cref="Take"/> took.</summary>
    public void Give(long bytes) => Interlocked.Add(ref _inUse, -bytes);
}
