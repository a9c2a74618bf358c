namespace Echo.Core.Chat;

/// <summary>
/// Settings of <see cref="IngestQuota"/>: how much one author, and one peer, may make us store.
/// Each has a rate (a burst, then so many a second) and a quota (so many an hour); a message must
/// fit both. A person types well under one message a second, so the defaults leave honest peers
/// untouched and hold a flooding one to a few thousand rows an hour.
/// </summary>
public sealed record IngestQuotaOptions
{
    /// <summary>Messages one author may have stored at once (a pasted paragraph, a burst of quick lines).</summary>
    public int AuthorBurst { get; init; } = 100;

    /// <summary>Messages a second one author may have stored after the burst.</summary>
    public double AuthorPerSecond { get; init; } = 1;

    /// <summary>Messages an hour one author may have stored.</summary>
    public int AuthorPerHour { get; init; } = 1_000;

    /// <summary>Live messages (of any author) one peer may deliver at once: every author it relays counts.</summary>
    public int PeerBurst { get; init; } = 300;

    /// <summary>Live messages a second one peer may deliver after its burst.</summary>
    public double PeerPerSecond { get; init; } = 20;

    /// <summary>Live messages an hour one peer may deliver.</summary>
    public int PeerPerHour { get; init; } = 20_000;

    /// <summary>Messages one peer's history pages may add at once (a full sync of a busy room).</summary>
    public int SyncedBurst { get; init; } = 20_000;

    /// <summary>Messages a second one peer's history pages may add after the burst.</summary>
    public double SyncedPerSecond { get; init; } = 100;

    /// <summary>Messages an hour one peer's history pages may add.</summary>
    public int SyncedPerHour { get; init; } = 200_000;

    /// <summary>Authors and peers tracked at once; beyond, those whose budget has refilled are forgotten first.</summary>
    public int MaxTracked { get; init; } = 4096;

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(AuthorBurst, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(AuthorPerSecond, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(AuthorPerHour, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(PeerBurst, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(PeerPerSecond, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(PeerPerHour, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(SyncedBurst, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(SyncedPerSecond, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(SyncedPerHour, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxTracked, 16);
    }
}

/// <summary>Why <see cref="IngestQuota"/> refused a message (or that it did not).</summary>
public enum IngestVerdict
{
    /// <summary>Within every budget: store it.</summary>
    Admitted,

    /// <summary>Its author sent faster than <see cref="IngestQuotaOptions.AuthorPerSecond"/> past the burst.</summary>
    AuthorRate,

    /// <summary>Its author used up <see cref="IngestQuotaOptions.AuthorPerHour"/>.</summary>
    AuthorQuota,

    /// <summary>The peer that delivered it sent faster than <see cref="IngestQuotaOptions.PeerPerSecond"/> past the burst.</summary>
    PeerRate,

    /// <summary>The peer that delivered it used up <see cref="IngestQuotaOptions.PeerPerHour"/>.</summary>
    PeerQuota,

    /// <summary>History pages from that peer went past <see cref="IngestQuotaOptions.SyncedPerSecond"/> or <see cref="IngestQuotaOptions.SyncedPerHour"/>.</summary>
    SyncedQuota,
}

/// <summary>
/// Decides, before anything is stored, whether a message from the network may be: per author and
/// per delivering peer, each with a rate and an hourly quota (<see cref="IngestQuotaOptions"/>).
/// What is refused is counted per reason (<see cref="Refusals"/>) and dropped; the caller tells the
/// user once per peer (<see cref="FirstRefusal"/>). One flooding author uses up only its own budget:
/// other authors' messages are still stored. Thread-safe, and its memory is bounded.
/// </summary>
public sealed class IngestQuota
{
    private readonly KeyedRate<string> _authorRate;
    private readonly KeyedRate<string> _authorHour;
    private readonly KeyedRate<string> _peerRate;
    private readonly KeyedRate<string> _peerHour;
    private readonly KeyedRate<string> _syncedRate;
    private readonly KeyedRate<string> _syncedHour;
    private readonly long[] _refused = new long[Enum.GetValues<IngestVerdict>().Length];
    private readonly Lock _gate = new();
    private readonly HashSet<string> _told = new(StringComparer.Ordinal);
    private readonly int _maxTold;

    /// <summary>A quota with <paramref name="options"/>, on <paramref name="time"/> (the system clock when null).</summary>
    public IngestQuota(IngestQuotaOptions options, TimeProvider? time = null)
    {
        options.Validate();
        TimeProvider clock = time ?? TimeProvider.System;
        int keys = options.MaxTracked;
        _authorRate = new KeyedRate<string>(options.AuthorBurst, options.AuthorPerSecond, keys, clock, StringComparer.Ordinal);
        _authorHour = new KeyedRate<string>(options.AuthorPerHour, options.AuthorPerHour / 3600.0, keys, clock, StringComparer.Ordinal);
        _peerRate = new KeyedRate<string>(options.PeerBurst, options.PeerPerSecond, keys, clock, StringComparer.Ordinal);
        _peerHour = new KeyedRate<string>(options.PeerPerHour, options.PeerPerHour / 3600.0, keys, clock, StringComparer.Ordinal);
        _syncedRate = new KeyedRate<string>(options.SyncedBurst, options.SyncedPerSecond, keys, clock, StringComparer.Ordinal);
        _syncedHour = new KeyedRate<string>(options.SyncedPerHour, options.SyncedPerHour / 3600.0, keys, clock, StringComparer.Ordinal);
        _maxTold = keys;
    }

    /// <summary>
    /// A live message (a room message or an echo-go line) by <paramref name="author"/>, delivered by
    /// <paramref name="peer"/> (the author itself when null). Admitted ones use up both budgets;
    /// one refused uses up nothing, so a flooding author does not eat the budget of the peer relaying it.
    /// </summary>
    public IngestVerdict AdmitLive(string author, string? peer)
    {
        peer ??= author;
        IngestVerdict verdict;
        lock (_gate)
        {
            verdict = !_authorRate.HasRoom(author) ? IngestVerdict.AuthorRate
                : !_authorHour.HasRoom(author) ? IngestVerdict.AuthorQuota
                : !_peerRate.HasRoom(peer) ? IngestVerdict.PeerRate
                : !_peerHour.HasRoom(peer) ? IngestVerdict.PeerQuota
                : IngestVerdict.Admitted;
            if (verdict == IngestVerdict.Admitted)
            {
                _authorRate.TryTake(author);
                _authorHour.TryTake(author);
                _peerRate.TryTake(peer);
                _peerHour.TryTake(peer);
            }
        }
        return Count(verdict);
    }

    /// <summary>
    /// <paramref name="count"/> messages a history page from <paramref name="peer"/> would add: how
    /// many of them may be stored (the first ones), the rest are counted as refused.
    /// </summary>
    public int AdmitSynced(string peer, int count)
    {
        int admitted = 0;
        lock (_gate)
        {
            while (admitted < count && _syncedRate.HasRoom(peer) && _syncedHour.HasRoom(peer))
            {
                _syncedRate.TryTake(peer);
                _syncedHour.TryTake(peer);
                admitted++;
            }
        }
        if (admitted < count)
            Interlocked.Add(ref _refused[(int)IngestVerdict.SyncedQuota], count - admitted);
        return admitted;
    }

    /// <summary>
    /// True the first time something of <paramref name="peer"/> is refused (then the user is told,
    /// once), false after. Bounded: past the limit, the set of peers told starts over.
    /// </summary>
    public bool FirstRefusal(string peer)
    {
        lock (_gate)
        {
            if (_told.Count >= _maxTold && !_told.Contains(peer))
                _told.Clear();
            return _told.Add(peer);
        }
    }

    /// <summary>Messages refused so far, by reason (only reasons that happened), keyed as in <see cref="ReasonKey"/>.</summary>
    public IReadOnlyDictionary<string, long> Refusals
    {
        get
        {
            Dictionary<string, long> counts = new(StringComparer.Ordinal);
            foreach (IngestVerdict verdict in Enum.GetValues<IngestVerdict>())
            {
                long n = Interlocked.Read(ref _refused[(int)verdict]);
                if (verdict != IngestVerdict.Admitted && n > 0)
                    counts[ReasonKey(verdict)] = n;
            }
            return counts;
        }
    }

    /// <summary>Messages refused so far, every reason together.</summary>
    public long RefusedTotal => Refusals.Values.Sum();

    /// <summary>The machine-readable name of a reason, as /stats and the headless <c>stats</c> event show it.</summary>
    public static string ReasonKey(IngestVerdict verdict) => verdict switch
    {
        IngestVerdict.AuthorRate => "store.author-rate",
        IngestVerdict.AuthorQuota => "store.author-quota",
        IngestVerdict.PeerRate => "store.peer-rate",
        IngestVerdict.PeerQuota => "store.peer-quota",
        IngestVerdict.SyncedQuota => "store.synced-quota",
        _ => "store.admitted",
    };

    private IngestVerdict Count(IngestVerdict verdict)
    {
        if (verdict != IngestVerdict.Admitted)
            Interlocked.Increment(ref _refused[(int)verdict]);
        return verdict;
    }
}
