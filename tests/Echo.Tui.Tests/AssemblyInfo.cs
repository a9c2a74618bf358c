using System.Runtime.CompilerServices;
using Xunit.Sdk;
using Xunit.v3;

// Each test runs its own Terminal.Gui application; they are few and short, and running them one
// at a time keeps Terminal.Gui's process-wide settings out of the picture.
[assembly: Parallelization(Mode = ParallelMode.None)]

namespace Echo.Tui.Tests;

internal static class TestEnvironment
{
    /// <summary>Terminal.Gui must not look for a real terminal under the test runner.</summary>
    [ModuleInitializer]
    internal static void DisableRealTerminal() => Environment.SetEnvironmentVariable("DisableRealDriverIO", "1");
}
