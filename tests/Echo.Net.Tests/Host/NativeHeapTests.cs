using Echo.Net.Host;

namespace Echo.Net.Tests.Host;

public class NativeHeapTests
{
    [Fact]
    public void OnLinux_GlibcTakesTheMmapThreshold_ElsewhereNothingIsSet()
    {
        bool set = NativeHeap.ReturnFreedBlocksToTheSystem();
        // glibc's mallopt answers 1 for a setting it took; this repository's CI runs on glibc Linux.
        Assert.Equal(OperatingSystem.IsLinux(), set);
        Assert.Equal(set, NativeHeap.ReturnFreedBlocksToTheSystem());   // setting it again is harmless
    }
}
