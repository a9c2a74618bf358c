namespace Echo.Protocols;

/// <summary>
/// How many inbound streams of Echo's costly protocols one peer may have open at once (the host
/// resets and counts the rest; docs/LIMITS.md, L-streams-per-protocol). The other protocols get
/// the host's default.
/// </summary>
internal static class InboundStreamLimits
{
    /// <summary>History sync: a peer syncs every room we share at once, one stream each; more rooms wait for a reconnect.</summary>
    public const int History = 8;

    /// <summary>File fetches: each holds an open file; a few at once from one peer is plenty.</summary>
    public const int Files = 4;
}
