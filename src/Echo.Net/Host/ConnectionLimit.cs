namespace Echo.Net.Host;

/// <summary>
/// What a limited connection may carry, as far as known: a relay's circuit ends after
/// <paramref name="Duration"/> or <paramref name="DataBytes"/> in each direction, whichever comes
/// first (go and js relays: 2 min and 128 KiB). Null fields are unknown, not unlimited.
/// </summary>
public sealed record ConnectionLimit(TimeSpan? Duration = null, long? DataBytes = null)
{
    /// <summary>Limited, with nothing known of the limit.</summary>
    public static ConnectionLimit Unknown { get; } = new();

    /// <summary>
    /// A data limit at or below this is small: a circuit carrying it spends as little as it can before
    /// the chat (<see cref="Connection.HasSmallDataLimit"/>). The relays' default of 128 KiB is not small.
    /// </summary>
    public const long SmallDataBytes = 32 * 1024;

    public override string ToString() =>
        Duration is null && DataBytes is null ? "limited"
            : string.Join(", ", new[]
            {
                Duration is { } d ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{d.TotalSeconds:0} s") : null,
                DataBytes is { } b ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{b} bytes") : null,
            }.OfType<string>());
}
