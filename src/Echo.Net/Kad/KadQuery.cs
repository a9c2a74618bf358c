using Echo.Net.Identity;

namespace Echo.Net.Kad;

/// <summary>
/// One iterative lookup: starts from the closest peers we know, asks each of the α closest it knows
/// (those that failed left out) once, learns closer peers from the answers, and ends when the
/// <see cref="KadOptions.Resiliency"/> closest peers it knows have all answered (go's rule), when no
/// peer is left to ask, when <see cref="KadOptions.MaxPeersPerLookup"/> were asked, or when the
/// caller says it has enough; the requests still in flight then are waited for and read (unless the
/// caller has enough), none sent anew. Each request is bounded by the sender (<see cref="KadOptions.RpcTimeout"/>),
/// the whole lookup by <see cref="KadOptions.LookupTimeout"/>.
/// </summary>
internal sealed class KadQuery
{
    /// <summary>Peers a lookup keeps track of at most (the farthest are forgotten first).</summary>
    public const int MaxKnownPeers = 1000;

    private enum State
    {
        Heard,
        Waiting,
        Answered,
        Failed,
    }

    private sealed class Candidate(KadPeer peer, KadKey key)
    {
        public KadPeer Peer { get; set; } = peer;
        public KadKey Key { get; } = key;
        public State State { get; set; }
    }

    private readonly KadKey _target;
    private readonly PeerId _self;
    private readonly KadOptions _options;
    private readonly Func<KadPeer, CancellationToken, Task<Pb.Message>> _send;
    private readonly Dictionary<PeerId, Candidate> _candidates = [];
    private readonly IComparer<Candidate> _byDistance;

    /// <param name="send">Sends the request to a peer and returns its answer (throws on failure or timeout).</param>
    public KadQuery(KadKey target, PeerId self, IEnumerable<KadPeer> seeds, KadOptions options,
        Func<KadPeer, CancellationToken, Task<Pb.Message>> send)
    {
        _target = target;
        _self = self;
        _options = options;
        _send = send;
        _byDistance = Comparer<Candidate>.Create((l, r) => target.CompareDistance(l.Key, r.Key));
        foreach (KadPeer seed in seeds)
            Learn(seed);
    }

    /// <summary>Requests sent so far.</summary>
    public int MessagesSent { get; private set; }

    /// <summary>Peers the lookup keeps track of now (at most <see cref="MaxKnownPeers"/>).</summary>
    public int KnownPeers => _candidates.Count;

    /// <summary>Peers that answered.</summary>
    public int PeersQueried { get; private set; }

    /// <summary>Called with every answer and the peer that gave it; returns true when the lookup has what it needs.</summary>
    public Func<KadPeer, Pb.Message, bool>? OnAnswer { get; init; }

    /// <summary>Called for every peer whose request failed or timed out.</summary>
    public Action<KadPeer, Exception>? OnFailure { get; init; }

    /// <summary>Called with every peer that answered.</summary>
    public Action<KadPeer>? OnSuccess { get; init; }

    /// <summary>
    /// Whether, once the closest peers answered, the rest of the k closest not yet asked are asked too
    /// (go's follow-up), so the result holds the k closest rather than the first to agree.
    /// </summary>
    public bool FollowUp { get; init; }

    /// <summary>Runs the lookup; returns the k closest peers that answered, closest first.</summary>
    public async Task<List<KadPeer>> RunAsync(CancellationToken cancellationToken)
    {
        using CancellationTokenSource lookup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        lookup.CancelAfter(_options.LookupTimeout);
        Dictionary<Task<Pb.Message>, Candidate> inflight = [];
        bool enough = false;
        try
        {
            while (!enough && !lookup.IsCancellationRequested)
            {
                List<Candidate> ordered = [.. _candidates.Values.Where(c => c.State != State.Failed).Order(_byDistance)];
                int top = Math.Min(_options.Resiliency, ordered.Count);
                // Done when the closest peers known have all answered (nothing known: nothing to do).
                if (ordered.Take(top).All(c => c.State == State.Answered))
                    break;
                // Only the α closest known are asked: a peer farther than α others that may still answer
                // is asked only once closer ones failed (or never), rather than whenever a slot frees.
                Launch(ordered.Take(_options.Alpha).Where(c => c.State == State.Heard), inflight, lookup.Token);
                if (inflight.Count == 0)
                    break;
                enough = await CompleteOneAsync(inflight, lookup).ConfigureAwait(false);
            }
            if (FollowUp)
            {
                // The k closest known now that were not asked: asked once each, their answers not followed.
                HashSet<Candidate> rest = [.. _candidates.Values.Where(c => c.State != State.Failed).Order(_byDistance)
                    .Take(_options.BucketSize).Where(c => c.State == State.Heard)];
                while (!enough && !lookup.IsCancellationRequested)
                {
                    Launch(rest.Where(c => c.State == State.Heard), inflight, lookup.Token);
                    if (inflight.Count == 0)
                        break;
                    enough = await CompleteOneAsync(inflight, lookup).ConfigureAwait(false);
                }
            }
            // Requests already sent are answered before the lookup ends (a provider lookup reads every
            // provider they bring); nothing more is sent.
            while (!enough && inflight.Count > 0 && !lookup.IsCancellationRequested)
                enough = await CompleteOneAsync(inflight, lookup).ConfigureAwait(false);
        }
        finally
        {
            await lookup.CancelAsync().ConfigureAwait(false);
            await ((Task)Task.WhenAll(inflight.Keys)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        return [.. _candidates.Values.Where(c => c.State == State.Answered).Order(_byDistance).Take(_options.BucketSize).Select(c => c.Peer)];
    }

    /// <summary>Sends to the first of <paramref name="next"/> while fewer than α are in flight and the lookup may ask more.</summary>
    private void Launch(IEnumerable<Candidate> next, Dictionary<Task<Pb.Message>, Candidate> inflight, CancellationToken cancellationToken)
    {
        foreach (Candidate candidate in next.ToList())
        {
            if (inflight.Count >= _options.Alpha || MessagesSent >= _options.MaxPeersPerLookup)
                break;
            candidate.State = State.Waiting;
            MessagesSent++;
            inflight[_send(candidate.Peer, cancellationToken)] = candidate;
        }
    }

    /// <summary>Waits for one request to end and takes in its answer; true when the caller has what it needs.</summary>
    private async Task<bool> CompleteOneAsync(Dictionary<Task<Pb.Message>, Candidate> inflight, CancellationTokenSource lookup)
    {
        Task<Pb.Message> done = await Task.WhenAny(inflight.Keys).ConfigureAwait(false);
        Candidate candidate = inflight[done];
        inflight.Remove(done);
        if (!done.IsCompletedSuccessfully)
        {
            candidate.State = State.Failed;
            if (!lookup.IsCancellationRequested)
                OnFailure?.Invoke(candidate.Peer, done.Exception?.InnerException ?? new OperationCanceledException());
            return false;
        }
        candidate.State = State.Answered;
        PeersQueried++;
        OnSuccess?.Invoke(candidate.Peer);
        Pb.Message answer = await done.ConfigureAwait(false);
        foreach (Pb.Message.Types.Peer closer in answer.CloserPeers)
        {
            if (KadCodec.ToPeer(closer, _options.AddressFilter) is { } peer)
                Learn(peer);
        }
        return OnAnswer?.Invoke(candidate.Peer, answer) == true;
    }

    private void Learn(KadPeer peer)
    {
        if (peer.Id == _self)
            return;
        if (_candidates.TryGetValue(peer.Id, out Candidate? known))
        {
            if (known.Peer.Addresses.Count == 0 && peer.Addresses.Count > 0)
                known.Peer = peer;
            return;
        }
        Candidate candidate = new(peer, KadKey.Of(peer.Id.Bytes));
        if (_candidates.Count >= MaxKnownPeers)
        {
            Candidate? farthest = _candidates.Values.Where(c => c.State == State.Heard).Max(_byDistance);
            if (farthest is null || _byDistance.Compare(candidate, farthest) >= 0)
                return;
            _candidates.Remove(farthest.Peer.Id);
        }
        _candidates[peer.Id] = candidate;
    }
}
