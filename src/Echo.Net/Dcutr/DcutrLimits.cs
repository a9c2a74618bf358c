namespace Echo.Net.Dcutr;

/// <summary>Limits on what DCUtR accepts from the wire and how often it tries (docs/LIMITS.md).</summary>
public static class DcutrLimits
{
    /// <summary>One <c>HolePunch</c> message: the spec's 4 KiB, checked before anything is allocated.</summary>
    public const int MaxMessageLength = 4096;

    /// <summary>Addresses taken from one CONNECT (after dropping unusable ones) and sent in ours.</summary>
    public const int MaxAddresses = 16;

    /// <summary>Hole punching attempts per relayed connection (spec FAQ, go and js: 3).</summary>
    public const int MaxAttempts = 3;

    /// <summary>
    /// DCUtR streams one peer may have open at once: one per attempt, as an answering side's punch may
    /// still run when the next attempt starts, and one spare.
    /// </summary>
    public const int MaxInboundStreamsPerPeer = MaxAttempts + 1;

    /// <summary>Addresses of the peer dialed at once in one punch.</summary>
    public const int MaxParallelDials = 4;
}
