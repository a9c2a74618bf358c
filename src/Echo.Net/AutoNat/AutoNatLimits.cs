namespace Echo.Net.AutoNat;

/// <summary>Limits on what AutoNAT accepts from the wire (docs/LIMITS.md).</summary>
public static class AutoNatLimits
{
    /// <summary>A message on <c>/libp2p/autonat/2/dial-request</c> or <c>/libp2p/autonat/1.0.0</c> (go: 8192).</summary>
    public const int MaxMessageLength = 8192;

    /// <summary>A message on <c>/libp2p/autonat/2/dial-back</c>: a nonce or a status (go: 1024).</summary>
    public const int MaxDialBackMessageLength = 1024;

    /// <summary>The <c>data</c> of one <c>DialDataResponse</c> (the spec's 4096).</summary>
    public const int MaxDialDataChunk = 4096;

    /// <summary>The most dial data either side deals in (the spec's upper figure).</summary>
    public const int MaxDialDataBytes = 100_000;

    /// <summary>Addresses of one request the server looks at; later ones are ignored.</summary>
    public const int MaxRequestAddresses = 50;

    /// <summary>Addresses of a v1 request the server dials (go: 16).</summary>
    public const int MaxV1DialAddresses = 16;

    /// <summary>Peers whose recent checks the server remembers for its per-peer rate limit.</summary>
    public const int MaxRateLimitedPeers = 4096;
}
