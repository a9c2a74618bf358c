namespace Echo.Net.Identify;

/// <summary>Limits on what we accept from identify, after go-libp2p's.</summary>
public static class IdentifyLimits
{
    /// <summary>go and js accept 8 KiB per message.</summary>
    public const int MaxMessageLength = 8 * 1024;

    /// <summary>go splits its answer in two when it carries a signed record; both go and js accept up to 10 parts.</summary>
    public const int MaxMessages = 10;

    /// <summary>We keep our own answer in one part under rust's 4096-byte limit.</summary>
    public const int MaxOwnMessageLength = 4096;

    public const int MaxStoredAddresses = 500;
    public const int MaxStoredProtocols = 1024;
    public const int MaxAddressesAfterDisconnect = 64;

    /// <summary>Longer protocol ids are dropped: multistream-select cannot negotiate them anyway.</summary>
    public const int MaxProtocolIdLength = 1000;

    /// <summary>How long we wait for a peer's identify answer.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
}
