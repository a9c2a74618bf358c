using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Echo.SystemTests;

/// <summary>
/// Creates sockets inside a network namespace from this process: a socket belongs to the namespace
/// of the thread that made it, so a short-lived thread enters the namespace (setns), creates them,
/// and goes back. The sockets can then be used from any thread.
/// </summary>
internal static partial class NamespaceSockets
{
    private const int CloneNewNet = 0x40000000;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);

    public static T Create<T>(string netns, Func<T> create)
    {
        T? result = default;
        Exception? error = null;
        Thread thread = new(() =>
        {
            try
            {
                using SafeFileHandle home = File.OpenHandle("/proc/thread-self/ns/net");
                using SafeFileHandle target = File.OpenHandle($"/var/run/netns/{netns}");
                Enter(target);
                try
                {
                    result = create();
                }
                finally
                {
                    Enter(home);
                }
            }
#pragma warning disable CA1031 // handed to the caller below
            catch (Exception e)
#pragma warning restore CA1031
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        return error is null ? result! : throw new InvalidOperationException($"could not create sockets in {netns}: {error.Message}", error);
    }

    private static void Enter(SafeFileHandle netns)
    {
        if (setns((int)netns.DangerousGetHandle(), CloneNewNet) != 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError());
    }
}
