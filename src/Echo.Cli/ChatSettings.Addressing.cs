using System.Globalization;
using System.Net;

namespace Echo.Cli;

/// <summary>--public-range and --observer-threshold: how the node judges addresses.</summary>
internal sealed partial record ChatSettings
{
    /// <summary>The largest --observer-threshold.</summary>
    public const int MaxObserverThreshold = 64;

    /// <summary>Ranges counted as public (--public-range, repeatable), e.g. a test network's "internet".</summary>
    public IReadOnlyList<IPNetwork> PublicRanges { get; init; } = [];

    /// <summary>Distinct observers before an observed address is trusted (--observer-threshold).</summary>
    public int ObserverThreshold { get; init; } = Net.Host.HostOptions.DefaultObservedAddressThreshold;

    /// <summary>Applies --public-range values; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public ChatSettings WithPublicRanges(IReadOnlyList<string> ranges)
    {
        List<IPNetwork> parsed = [];
        foreach (string text in ranges)
        {
            string trimmed = text.Trim();
            int slash = trimmed.IndexOf('/', StringComparison.Ordinal);
            // The address must be the range's base: 10.99.0.1/16 is more likely a typo than 10.99.0.0/16.
            if (slash < 0 || !IPNetwork.TryParse(trimmed, out IPNetwork range)
                || !IPAddress.TryParse(trimmed[..slash], out IPAddress? address) || !address.Equals(range.BaseAddress))
                throw new ArgumentException(
                    $"--public-range {text}: not a CIDR range such as 10.99.0.0/16 or fd00:99::/32 (no address bits set past the prefix)");
            parsed.Add(range);
        }
        return parsed.Count == 0 ? this : this with { PublicRanges = parsed };
    }

    /// <summary>Applies --observer-threshold (1 to <see cref="MaxObserverThreshold"/>).</summary>
    public ChatSettings WithObserverThreshold(string? threshold)
    {
        if (threshold is null)
            return this;
        return int.TryParse(threshold.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= MaxObserverThreshold
            ? this with { ObserverThreshold = n }
            : throw new ArgumentException($"--observer-threshold {threshold}: not a whole number from 1 to {MaxObserverThreshold}");
    }
}
