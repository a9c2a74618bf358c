namespace Echo.Net.DnsAddr;

/// <summary>Bounds of one <c>/dnsaddr</c> resolution (docs/LIMITS.md, L-dnsaddr), each with the reason for its default.</summary>
public sealed record DnsAddrOptions
{
    /// <summary>
    /// TXT lookups nested at most this deep, the first one included: <c>bootstrap.libp2p.io</c> needs 2
    /// (the list, then one per site); 4 leaves room and stops a chain of names that never ends.
    /// </summary>
    public int MaxDepth { get; init; } = 4;

    /// <summary>
    /// <c>dnsaddr=</c> records read from one answer; the rest are ignored. A site publishes a handful
    /// (one per transport and IP family), the list of <c>bootstrap.libp2p.io</c> one per site.
    /// </summary>
    public int MaxRecordsPerAnswer { get; init; } = 32;

    /// <summary>Addresses one resolution returns at most; a peer needs few, a long list only costs dials.</summary>
    public int MaxAddresses { get; init; } = 64;

    /// <summary>TXT lookups one resolution makes at most, nested ones included (a wide tree of names stops here).</summary>
    public int MaxLookups { get; init; } = 32;

    /// <summary>How long one resolution may take in all; what was found by then is used.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDepth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRecordsPerAnswer, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAddresses, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxLookups, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Timeout, TimeSpan.Zero);
    }
}
