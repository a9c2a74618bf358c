using Echo.Net.Host;

namespace Echo.Net.Dcutr;

/// <summary>Who runs the upgrade as initiator on a hole-punched connection.</summary>
public static class DcutrRoles
{
    /// <summary>
    /// Our role on the connection punched in <paramref name="attempt"/> (1-based): the peer that received
    /// SYNC (the spec's A, which answered the CONNECT) is the Noise initiator, multistream dialer and
    /// yamux client whatever the socket says; the peer that sent SYNC responds. On the last attempt both
    /// swap, for peers that had the roles reversed (go-libp2p before v0.41; go swaps on its last attempt too).
    /// </summary>
    public static ConnectionRole OnPunchedConnection(bool receivedSync, int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        bool initiator = receivedSync;
        if (attempt >= DcutrLimits.MaxAttempts)
            initiator = !initiator;
        return initiator ? ConnectionRole.Initiator : ConnectionRole.Responder;
    }
}
