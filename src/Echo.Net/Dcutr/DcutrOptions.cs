using Echo.Net.Multiformats;

namespace Echo.Net.Dcutr;

/// <summary>Settings of <see cref="DcutrService"/>, each with the reason for its default.</summary>
public sealed record DcutrOptions
{
    /// <summary>
    /// Dial the peer's public addresses (from identify) before hole punching, as the spec's B does when
    /// A is reachable. Tests of the punch itself turn it off.
    /// </summary>
    public bool UnilateralUpgrade { get; init; } = true;

    /// <summary>How long the side that was dialed through the relay waits for identify before it decides.</summary>
    public TimeSpan IdentifyWait { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>One CONNECT/CONNECT/SYNC exchange (go allows 60 s for the stream, js 5 s per attempt).</summary>
    public TimeSpan ExchangeTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>One punch: the simultaneous dials and the upgrade of the punched connection (go dials for 10 s).</summary>
    public TimeSpan PunchTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Pause between attempts, so a NAT's stale state from the last one can expire.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a relayed connection stays open once a direct one replaced it, so streams on it can
    /// finish (new streams use the direct connection).
    /// </summary>
    public TimeSpan RelayedGracePeriod { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The addresses we send in CONNECT; null (the default): our public advertised addresses, then
    /// the public addresses peers observed us at. Tests use it to play unreachable or moving addresses.
    /// </summary>
    public Func<IReadOnlyList<Multiaddr>>? Addresses { get; init; }

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(IdentifyWait, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ExchangeTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(PunchTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(RelayedGracePeriod, TimeSpan.Zero);
    }
}
