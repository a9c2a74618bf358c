namespace Echo.Protocols.Discovery;

/// <summary>When and how much room discovery (<see cref="RoomDiscovery"/>) provides, looks up and dials.</summary>
public sealed record RoomDiscoveryOptions
{
    /// <summary>How often a room's and our presence record are provided again (go's routing discovery uses 3 h; records live 24-48 h).</summary>
    public TimeSpan RepublishInterval { get; init; } = TimeSpan.FromHours(3);

    /// <summary>How soon a provide that reached nobody (an empty routing table at start) is tried again.</summary>
    public TimeSpan ProvideRetryInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>How long after our addresses changed the records are provided again (a burst of changes gives one provide).</summary>
    public TimeSpan AddressChangeDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Lookups of a room while it has too few peers.</summary>
    public TimeSpan EagerLookupInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Lookups of a room once it has enough peers.</summary>
    public TimeSpan SettledLookupInterval { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>A room with this many peers in its topic has enough (gossipsub's D_low).</summary>
    public int EnoughPeers { get; init; } = 4;

    /// <summary>Most providers one lookup returns (and so dials).</summary>
    public int MaxProvidersPerLookup { get; init; } = 20;

    /// <summary>Most dials to providers running at once, over every room.</summary>
    public int MaxConcurrentDials { get; init; } = 4;

    /// <summary>Longest one provide or one lookup may take (on the discovery's <see cref="TimeProvider"/>).</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Most addresses a presence lookup returns.</summary>
    public int MaxPresenceAddresses { get; init; } = 16;

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RepublishInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ProvideRetryInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(AddressChangeDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(EagerLookupInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(SettledLookupInterval, EagerLookupInterval);
        ArgumentOutOfRangeException.ThrowIfLessThan(EnoughPeers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxProvidersPerLookup, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentDials, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(OperationTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPresenceAddresses, 1);
    }
}
