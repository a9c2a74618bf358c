using Echo.Net.Identity;
using Echo.Net.ResourceManager;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Host;

/// <summary>
/// Carries out the connection manager's choice: past the high watermark it closes the connections
/// <see cref="ConnectionManager.SelectForTrim"/> names (the least useful, never a protected peer),
/// on every new connection and every <see cref="ResourceLimits.TrimInterval"/>.
/// </summary>
internal sealed class ConnectionTrimmer(Libp2pHost host, ILogger logger)
{
    /// <summary>Closes the least useful connections when there are more than the high watermark.</summary>
    public void Trim()
    {
        IReadOnlyList<Connection> all = host.Connections;
        ResourceLimits limits = host.Options.Limits;
        if (all.Count <= limits.HighWatermark)
            return;
        // This runs on every new connection. While every connection is in its grace period (a burst
        // of new ones) none may be trimmed: stop before building and sorting the candidates.
        DateTimeOffset now = host.Time.GetUtcNow();
        bool anyPastGrace = false;
        foreach (Connection connection in all)
            anyPastGrace |= now - connection.OpenedAt >= limits.GracePeriod;
        if (!anyPastGrace)
            return;
        TrimCandidate[] candidates = new TrimCandidate[all.Count];
        for (int i = 0; i < candidates.Length; i++)
            candidates[i] = new TrimCandidate(all[i].RemotePeer, all[i].StreamCount, all[i].OpenedAt);
        IReadOnlyList<PeerId> trim = host.Resources.ConnectionManager.SelectForTrim(candidates, now);
        foreach (PeerId peer in trim)
        {
            if (host.GetConnection(peer) is not { } connection)
                continue;
            host.Resources.CountTrimmed();
            Log.ConnectionTrimmed(logger, peer, all.Count, limits.HighWatermark);
            host.TrackBackground(connection.CloseAsync());
        }
    }

    /// <summary>Trims every interval until <paramref name="stopping"/>.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                await Task.Delay(host.Options.Limits.TrimInterval, host.Time, stopping).ConfigureAwait(false);
                Trim();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
