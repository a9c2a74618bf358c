using Echo.Net.Identity;
using Echo.Net.Multiformats;

namespace Echo.Net.AutoNat;

/// <summary>Whether peers on the internet can dial us.</summary>
public enum ReachabilityStatus
{
    /// <summary>No verdict yet (too few servers answered): the node behaves as private.</summary>
    Unknown,

    /// <summary>At least one address was confirmed by more than the threshold of servers.</summary>
    Public,

    /// <summary>No address is public and at least one was denied by more than the threshold of servers.</summary>
    Private,
}

/// <summary>Our reachability: the overall status and the addresses it rests on.</summary>
/// <param name="Status">The overall status.</param>
/// <param name="Addresses">Public: the addresses judged public; private: those judged private; unknown: none.</param>
public sealed record ReachabilityReport(ReachabilityStatus Status, IReadOnlyList<Multiaddr> Addresses)
{
    public static ReachabilityReport Unknown { get; } = new(ReachabilityStatus.Unknown, []);

    /// <summary>Whether the node may act as public (serve AutoNAT, DHT server mode): only when confirmed.</summary>
    public bool IsPublic => Status == ReachabilityStatus.Public;

    public bool SameAs(ReachabilityReport other) => Status == other.Status && Addresses.SequenceEqual(other.Addresses);
}

/// <summary>
/// Per-address reachability from the servers' answers: the latest answer of each server for each
/// candidate address counts while fresh; an address is public when more than
/// <c>threshold</c> servers confirm it, private when more than <c>threshold</c> deny it (the spec's
/// suggested heuristic), unknown otherwise. Answers older than twice the recheck interval are
/// forgotten, so when servers stop answering the verdict falls back to unknown (treated as private).
/// </summary>
internal sealed class ReachabilityTracker(int threshold, TimeSpan recheckInterval, TimeProvider time)
{
    /// <summary>Answers kept per address (the newest); far more than a verdict needs.</summary>
    public const int MaxAnswersPerAddress = 32;

    private readonly Lock _gate = new();
    private readonly Dictionary<Multiaddr, Dictionary<PeerId, (bool Reachable, long At)>> _results = [];
    private List<Multiaddr> _candidates = [];

    /// <summary>Sets the addresses to track (in priority order); answers about others are dropped. True when the set changed.</summary>
    public bool SetCandidates(IEnumerable<Multiaddr> candidates)
    {
        List<Multiaddr> next = [.. candidates.Select(a => a.WithoutPeerId()).Distinct()];
        lock (_gate)
        {
            if (next.SequenceEqual(_candidates))
                return false;
            _candidates = next;
            foreach (Multiaddr gone in _results.Keys.Where(a => !next.Contains(a)).ToList())
                _results.Remove(gone);
            return true;
        }
    }

    public IReadOnlyList<Multiaddr> Candidates
    {
        get
        {
            lock (_gate)
                return [.. _candidates];
        }
    }

    /// <summary>Records <paramref name="server"/>'s answer about <paramref name="address"/>, replacing its previous one.</summary>
    public void Record(Multiaddr address, PeerId server, bool reachable)
    {
        address = address.WithoutPeerId();
        lock (_gate)
        {
            if (!_candidates.Contains(address))
                return;
            if (!_results.TryGetValue(address, out Dictionary<PeerId, (bool, long)>? answers))
                _results[address] = answers = [];
            long now = time.GetTimestamp();
            answers[server] = (reachable, now);
            if (answers.Count > MaxAnswersPerAddress)
            {
                foreach (PeerId old in answers.OrderBy(a => a.Value.Item2).Take(answers.Count - MaxAnswersPerAddress).Select(a => a.Key).ToList())
                    answers.Remove(old);
            }
        }
    }

    /// <summary>Whether <paramref name="server"/> should be asked about <paramref name="address"/>: no answer from it newer than the recheck interval.</summary>
    public bool NeedsAnswer(Multiaddr address, PeerId server)
    {
        lock (_gate)
        {
            return !_results.TryGetValue(address, out Dictionary<PeerId, (bool, long At)>? answers)
                || !answers.TryGetValue(server, out (bool, long At) answer)
                || time.GetElapsedTime(answer.At) >= recheckInterval;
        }
    }

    /// <summary>Whether <paramref name="address"/> already has a verdict from answers newer than the recheck interval.</summary>
    public bool IsSettled(Multiaddr address)
    {
        lock (_gate)
        {
            (int yes, int no) = Count(address, recheckInterval);
            return yes > threshold || no > threshold;
        }
    }

    public ReachabilityStatus VerdictOf(Multiaddr address)
    {
        lock (_gate)
            return Verdict(address);
    }

    /// <summary>The overall status now (see <see cref="ReachabilityReport"/>).</summary>
    public ReachabilityReport Report()
    {
        lock (_gate)
        {
            List<Multiaddr> reachable = [.. _candidates.Where(a => Verdict(a) == ReachabilityStatus.Public)];
            if (reachable.Count > 0)
                return new ReachabilityReport(ReachabilityStatus.Public, reachable);
            List<Multiaddr> unreachable = [.. _candidates.Where(a => Verdict(a) == ReachabilityStatus.Private)];
            return unreachable.Count > 0 ? new ReachabilityReport(ReachabilityStatus.Private, unreachable) : ReachabilityReport.Unknown;
        }
    }

    private ReachabilityStatus Verdict(Multiaddr address)
    {
        (int yes, int no) = Count(address, recheckInterval * 2);
        if (yes > threshold && yes >= no)
            return ReachabilityStatus.Public;
        return no > threshold ? ReachabilityStatus.Private : ReachabilityStatus.Unknown;
    }

    private (int Yes, int No) Count(Multiaddr address, TimeSpan maxAge)
    {
        if (!_results.TryGetValue(address, out Dictionary<PeerId, (bool Reachable, long At)>? answers))
            return (0, 0);
        long now = time.GetTimestamp();
        int yes = 0, no = 0;
        foreach ((bool reachable, long at) in answers.Values)
        {
            if (time.GetElapsedTime(at, now) >= maxAge)
                continue;
            if (reachable)
                yes++;
            else
                no++;
        }
        return (yes, no);
    }
}
