using System.Net.Sockets;

namespace Echo.SystemTests;

/// <summary>The copy loop of the test forwarders: bytes both ways between two sockets until either side ends.</summary>
internal static class SocketRelay
{
    /// <summary>Copies both ways until one direction ends (closed, failed or <paramref name="stopping"/>); never throws for those.</summary>
    public static Task RunAsync(Socket a, Socket b, CancellationToken stopping) =>
        Task.WhenAny(PumpAsync(a, b, stopping), PumpAsync(b, a, stopping));

    private static async Task PumpAsync(Socket from, Socket to, CancellationToken stopping)
    {
        byte[] buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, stopping)) > 0)
                await to.SendAsync(buffer.AsMemory(0, read), stopping);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }
}
