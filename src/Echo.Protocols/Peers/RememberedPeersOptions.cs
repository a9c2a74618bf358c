using Echo.Net.Host;

namespace Echo.Protocols.Peers;

/// <summary>Settings of remembered peers and their reconnection, each with the reason for its default.</summary>
public sealed record RememberedPeersOptions
{
    /// <summary>Where the peer book is kept (owner-only); null keeps it in memory for this run only.</summary>
    public string? File { get; init; }

    /// <summary>A peer unseen this long is forgotten: a month covers holidays, not a peer that is gone for good.</summary>
    public TimeSpan ForgetAfter { get; init; } = TimeSpan.FromDays(30);

    /// <summary>The back-off and the bound on dials at once.</summary>
    public RedialOptions Redial { get; init; } = new();

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ForgetAfter, TimeSpan.Zero);
        Redial.Validate();
    }
}
