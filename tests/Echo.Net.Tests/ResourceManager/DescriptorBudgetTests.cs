using System.Globalization;
using Echo.Net.ResourceManager;

namespace Echo.Net.Tests.ResourceManager;

/// <summary>L-descriptors: the descriptor budget below RLIMIT_NOFILE.</summary>
public sealed class DescriptorBudgetTests
{
    [Fact]
    public void Budget_IsTheLimitMinusTheLargerOfTheReserveAndAQuarter()
    {
        Assert.Equal(768, new DescriptorBudget(new ResourceLimits { DescriptorLimit = 1024 }).Limit);
        Assert.Equal(49152, new DescriptorBudget(new ResourceLimits { DescriptorLimit = 65536 }).Limit);
        Assert.Equal(44, new DescriptorBudget(new ResourceLimits { DescriptorLimit = 300 }).Limit);
    }

    [Fact]
    public void Reserve_UpToTheBudget_ThenRefused_AndALeaseReturnsItsDescriptorOnce()
    {
        DescriptorBudget budget = new(new ResourceLimits { DescriptorLimit = 300, ReservedDescriptors = 297 });
        DescriptorLease[] leases = [budget.TryReserve()!, budget.TryReserve()!, budget.TryReserve()!];
        Assert.All(leases, Assert.NotNull);

        Assert.Null(budget.TryReserve());
        leases[0].Dispose();
        leases[0].Dispose();
        Assert.Equal(2, budget.InUse);
        Assert.NotNull(budget.TryReserve());
        Assert.Null(budget.TryReserve());
    }

    [Fact]
    public void ProcessLimit_IsThisProcessesRlimitNofile()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads /proc/self/limits");
        string line = File.ReadLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        string soft = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        long expected = soft == "unlimited" ? int.MaxValue : Math.Min(int.MaxValue, long.Parse(soft, CultureInfo.InvariantCulture));

        Assert.Equal(expected, new DescriptorBudget(new ResourceLimits()).ProcessLimit);
    }
}
