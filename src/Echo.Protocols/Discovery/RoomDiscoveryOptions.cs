namespace Echo.Protocols.Discovery;

/// <summary>When and how much room discovery (<see cref="RoomDiscovery"/>) provides, looks up and dials.</summary>
public sealed record RoomDiscoveryOptions
{
    /// <summary>How often a room's and our presence record are provided again (go's routing discovery uses 3 h; records live 24-48 h).</summary>
    public TimeSpan RepublishInterval { get; init; } = TimeSpan.FromHours(3);

    /// <summary>
    /// The longest wait before a provide that reached nobody is tried again; the first retry comes
    /// after <see cref="FirstRetryInterval"/> and the wait doubles up to this.
    /// </summary>
    public TimeSpan ProvideRetryInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The first wait before a provide that reached nobody is tried again (at start the routing table
    /// is empty until the bootstrap peers answer, well under a second later); at most
    /// <see cref="ProvideRetryInterval"/>.
    /// </summary>
    public TimeSpan FirstRetryInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The first wait before a room whose lookup left it short of peers is looked up again (members
    /// joining at the same moment miss each other's records); the wait doubles up to
    /// <see cref="EagerLookupInterval"/> (and is never longer), and starts again here after our
    /// addresses change.
    /// </summary>
    public TimeSpan FirstLookupInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long after our addresses changed the records are provided again (a burst of changes gives one provide).</summary>
    public TimeSpan AddressChangeDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest wait between lookups of a room while it has too few peers.</summary>
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
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(FirstRetryInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(FirstLookupInterval, TimeSpan.Zero);
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
