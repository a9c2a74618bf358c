namespace Echo.Net.Kad;

/// <summary>Bounds on what the DHT accepts from the wire (docs/LIMITS.md).</summary>
public static class KadLimits
{
    /// <summary>The largest message (go's <c>network.MessageSizeMax</c>, js's default): 4 MiB.</summary>
    public const int MaxMessageBytes = 4 * 1024 * 1024;

    /// <summary>A key: go refuses keys longer than 80 bytes.</summary>
    public const int MaxKeyBytes = 80;

    /// <summary>Closer peers one answer may hold; more refuses the answer (servers send k = 20).</summary>
    public const int MaxCloserPeers = 100;

    /// <summary>Provider peers one answer may hold; more refuses the answer.</summary>
    public const int MaxProviderPeers = 1000;

    /// <summary>Addresses kept per peer of an answer or a record; later ones are ignored.</summary>
    public const int MaxAddressesPerPeer = 16;
}
