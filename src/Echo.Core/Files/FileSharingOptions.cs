namespace Echo.Core.Files;

/// <summary>Settings of file sharing (/send, /get), each with the reason for its default.</summary>
public sealed record FileSharingOptions
{
    /// <summary>The user's Downloads/echo folder.</summary>
    public static string DefaultDownloadsDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "Downloads", "echo");

    /// <summary>Where verified downloads are put (created when needed); partial ones wait in a hidden folder inside it.</summary>
    public string DownloadsDirectory { get; init; } = DefaultDownloadsDirectory;

    /// <summary>
    /// Where the files we offered are remembered, so that a restarted sender still serves them; null
    /// keeps them in memory only.
    /// </summary>
    public string? StateDirectory { get; init; }

    /// <summary>The largest file /get accepts: far above chat use, and a bound on what a peer can make us store.</summary>
    public long MaxFileSize { get; init; } = 4L << 30;

    /// <summary>Progress events at most this often per download (4 a second: smooth, yet cheap for a script).</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The wait before a broken transfer is retried from where it stopped (doubled up to 8 times this).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// A download that receives nothing for this long is dropped with an error (its partial file
    /// stays for /get to resume): long enough for a slow link, short enough that a dead one is told.
    /// </summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Offers from others remembered for /get; the oldest are forgotten beyond this.</summary>
    public int MaxKnownOffers { get; init; } = 10_000;

    /// <summary>Our own offers remembered (and served); the oldest are withdrawn beyond this.</summary>
    public int MaxOwnOffers { get; init; } = 1_000;

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(DownloadsDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFileSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ProgressInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RetryDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StallTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxKnownOffers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxOwnOffers, 1);
    }
}
