using System.Runtime.InteropServices;

namespace Echo.Net.Host;

/// <summary>
/// Process-wide setting of the C library's allocator, applied by the Echo executables at start (not by
/// the library itself: it changes the whole process).
/// </summary>
/// <remarks>
/// The runtime's compiler takes its scratch memory from <c>malloc</c> in 64 KiB blocks while it
/// optimizes hot methods on a background thread (several MiB for a large async method), and frees it
/// after each method. glibc serves blocks below its mmap threshold (128 KiB) from a per-thread arena and
/// keeps freed ones resident, so a relay that had just started carrying circuits kept 5-9 MiB of freed
/// compiler memory (measured with heaptrack and /proc/&lt;pid&gt;/smaps; <c>docs/BENCHMARKS.md</c>, relay).
/// With the threshold at 64 KiB those blocks are mapped and unmapped on their own and go back to the
/// system when freed: the relay's resident size after warm-up fell by 6-12 MiB. Blocks this large are
/// rare outside the compiler (the data path allocates nothing from <c>malloc</c>), so the extra system
/// calls cost nothing measurable.
/// </remarks>
public static partial class NativeHeap
{
    /// <summary>Blocks at least this large are mapped on their own by glibc's <c>malloc</c>.</summary>
    public const int MmapThreshold = 64 * 1024;

    private const int MallocOptionMmapThreshold = -3;   // M_MMAP_THRESHOLD in malloc.h

    /// <summary>Sets glibc's mmap threshold to <see cref="MmapThreshold"/>; false where there is no such setting.</summary>
    public static bool ReturnFreedBlocksToTheSystem()
    {
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            return mallopt(MallocOptionMmapThreshold, MmapThreshold) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc")]
    private static partial int mallopt(int param, int value);
}
