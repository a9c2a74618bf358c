namespace Echo.Protocols.History;

/// <summary>
/// Which syncs run: one per (peer, room) at a time (asking again joins the one that runs), and at
/// most <c>perPeer</c> with one peer at once; the others wait their turn in order. The last sync of
/// a peer to end forgets it.
/// </summary>
/// <typeparam name="TPeer">What names a peer.</typeparam>
internal sealed class SyncTurns<TPeer>(int perPeer) where TPeer : notnull
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(TPeer, string), Task> _running = [];
    private readonly Dictionary<TPeer, PeerTurns> _turns = [];

    /// <summary>Peers with a sync running or waiting (for tests and /stats).</summary>
    public int Peers
    {
        get { lock (_gate) return _turns.Count; }
    }

    /// <summary>
    /// Runs <paramref name="sync"/> for <paramref name="peer"/> and <paramref name="room"/> in its turn,
    /// unless a sync of that pair runs already: then returns that one. Cancelling
    /// <paramref name="cancellationToken"/> while it waits for its turn ends it without running.
    /// </summary>
    public Task Run(TPeer peer, string room, Func<Task> sync, CancellationToken cancellationToken)
    {
        TaskCompletionSource started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Task run;
        lock (_gate)
        {
            if (_running.TryGetValue((peer, room), out Task? running))
                return running;
            run = RunInTurnAsync(started.Task, peer, room, sync, cancellationToken);
            _running[(peer, room)] = run;
        }
        started.TrySetResult();
        return run;
    }

    private async Task RunInTurnAsync(Task start, TPeer peer, string room, Func<Task> sync, CancellationToken cancellationToken)
    {
        await start.ConfigureAwait(false);
        PeerTurns turns;
        lock (_gate)
        {
            if (!_turns.TryGetValue(peer, out turns!))
                _turns[peer] = turns = new PeerTurns(perPeer);
            turns.Users++;
        }
        bool entered = false;
        try
        {
            await turns.Slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            entered = true;
            await sync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (entered)
                turns.Slots.Release();
            lock (_gate)
            {
                _running.Remove((peer, room));
                if (--turns.Users == 0)
                {
                    _turns.Remove(peer);
                    turns.Slots.Dispose();
                }
            }
        }
    }

    /// <summary>The syncs with one peer: at most perPeer hold a slot, the rest wait.</summary>
    private sealed class PeerTurns(int slots)
    {
        public SemaphoreSlim Slots { get; } = new(slots, slots);

        /// <summary>Runs waiting for or holding a slot (under the gate); the last one out removes the entry.</summary>
        public int Users { get; set; }
    }
}
