using System.Runtime.InteropServices;

namespace Echo.Net.ResourceManager;

/// <summary>
/// The file descriptors connections and served files may hold: the process limit
/// (<c>RLIMIT_NOFILE</c>, read at start) minus a reserve for everything else. A socket or a file is
/// opened only with a <see cref="DescriptorLease"/>; past the budget the connection or the file
/// request is refused instead of the process running out (EMFILE) for everyone.
/// </summary>
public sealed partial class DescriptorBudget
{
    private long _inUse;

    internal DescriptorBudget(ResourceLimits limits)
    {
        ProcessLimit = limits.DescriptorLimit ?? ReadProcessLimit();
        long reserve = Math.Max(limits.ReservedDescriptors, ProcessLimit / 4);
        Limit = Math.Max(1, ProcessLimit - reserve);
    }

    /// <summary><c>RLIMIT_NOFILE</c> of this process (its soft limit), or <see cref="int.MaxValue"/> where there is none.</summary>
    public long ProcessLimit { get; }

    /// <summary>Descriptors connections and served files may hold at once.</summary>
    public long Limit { get; }

    /// <summary>Descriptors held now under leases.</summary>
    public long InUse => Interlocked.Read(ref _inUse);

    /// <summary>Reserves one descriptor, or returns null when the budget is used up.</summary>
    public DescriptorLease? TryReserve()
    {
        long current = Interlocked.Read(ref _inUse);
        while (current < Limit)
        {
            long seen = Interlocked.CompareExchange(ref _inUse, current + 1, current);
            if (seen == current)
                return new DescriptorLease(this);
            current = seen;
        }
        return null;
    }

    internal void Release() => Interlocked.Decrement(ref _inUse);

    private static long ReadProcessLimit()
    {
        int resource = OperatingSystem.IsLinux() ? 7 : OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() ? 8 : -1;
        if (resource < 0 || getrlimit(resource, out RLimit limit) != 0)
            return int.MaxValue;
        return limit.Current > int.MaxValue ? int.MaxValue : (long)limit.Current;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out RLimit limit);
}

/// <summary>One descriptor of a <see cref="DescriptorBudget"/>; disposing returns it (twice is harmless).</summary>
public sealed class DescriptorLease : IDisposable
{
    private DescriptorBudget? _budget;

    internal DescriptorLease(DescriptorBudget budget) => _budget = budget;

    public void Dispose() => Interlocked.Exchange(ref _budget, null)?.Release();
}
