using System.Net.Sockets;
using Echo.Net.Multiformats;
using Echo.Net.ResourceManager;
using Echo.Net.Transport.Tcp;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Host;

/// <summary>
/// One listening socket's accept loop: takes each new TCP connection, asks the resource manager for
/// a slot (per-address, inbound and handshake limits, descriptors) and hands the admitted ones to
/// the host to upgrade. Running out of descriptors (EMFILE, ENFILE) or buffers pauses it with a
/// growing wait instead of ending it, so the node accepts again once descriptors are freed.
/// </summary>
internal sealed class InboundListener(Socket socket, Multiaddr address, Libp2pHost host, HostResources resources, ILogger logger)
{
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(1);

    /// <summary>Accepts until <paramref name="stopping"/> or the socket is closed; <paramref name="upgrade"/> owns each admitted connection.</summary>
    public async Task RunAsync(Func<TcpConnection, ConnectionSlot, Task> upgrade, CancellationToken stopping)
    {
        TimeSpan backoff = TimeSpan.Zero;
        int failures = 0;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                Socket accepted;
                try
                {
                    accepted = await host.AcceptSocket(socket, stopping).ConfigureAwait(false);
                }
                catch (SocketException e) when (IsTransient(e.SocketErrorCode))
                {
                    // The pending connection stays in the backlog; wait for descriptors to be freed and
                    // try again, logging once per outage.
                    if (failures++ == 0)
                        Log.AcceptPaused(logger, address, e.Message);
                    backoff = backoff == TimeSpan.Zero ? InitialBackoff : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                    await Task.Delay(backoff, host.Time, stopping).ConfigureAwait(false);
                    continue;
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset)
                {
                    continue;        // the client gave up before we accepted it
                }
                if (failures > 0)
                {
                    Log.AcceptResumed(logger, address, failures);
                    failures = 0;
                    backoff = TimeSpan.Zero;
                }
                TcpConnection tcp = new(accepted);
                System.Net.IPAddress remote = (accepted.RemoteEndPoint as System.Net.IPEndPoint)?.Address ?? System.Net.IPAddress.None;
                ConnectionSlot? slot = resources.TryOpenInbound(remote, out LimitKind refusal);
                if (slot is null)
                {
                    Log.InboundRefused(logger, tcp.RemoteAddress, RefusalReason(refusal));
                    await tcp.DisposeAsync().ConfigureAwait(false);
                    continue;
                }
                host.TrackBackground(upgrade(tcp, slot));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            Log.ListenerStopped(logger, address, e is OperationCanceledException ? null : e);
        }
    }

    private static bool IsTransient(SocketError error) =>
        error is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable;

    private string RefusalReason(LimitKind refusal) => refusal switch
    {
        LimitKind.InboundConnections => $"{host.Options.MaxInboundConnections} inbound connections is the limit",
        LimitKind.PendingHandshakes => $"{host.Options.MaxPendingInboundConnections} connections are already in their handshake",
        LimitKind.ConnectionsPerAddress => $"{host.Options.Limits.MaxConnectionsPerAddress} connections from one address is the limit",
        LimitKind.PendingHandshakesPerAddress => $"{host.Options.Limits.MaxPendingPerAddress} handshakes from one address are already in progress",
        LimitKind.Descriptors => $"all {resources.Descriptors.Limit} descriptors for connections and files are in use",
        _ => refusal.ToString(),
    };
}
