namespace Echo.Protocols.EchoGo;

/// <summary>When we open echo-go streams and write to them; see docs/PROTOCOLS.md.</summary>
public sealed record EchoGoOptions
{
    /// <summary>
    /// How long a peer that dialed us has to open its echo-go stream before we open ours (echo-go opens
    /// one right after its own dial, so a second is plenty even across the world).
    /// </summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long lines wait on a stream we just opened: a peer whose own open crossed ours closes ours
    /// unread, at once, and its stream reaches us within a round trip.
    /// </summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Grace, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(Settle, TimeSpan.Zero);
    }
}
