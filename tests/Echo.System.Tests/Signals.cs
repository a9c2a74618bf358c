using System.Runtime.InteropServices;

namespace Echo.SystemTests;

/// <summary>Sends a POSIX signal to a process (System.Diagnostics.Process can only kill).</summary>
internal static partial class Signals
{
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>0 when the signal was sent, else the error number.</summary>
    public static int Send(int processId, int signal) => Kill(processId, signal) == 0 ? 0 : Marshal.GetLastPInvokeError();
}
