using Echo.Protocols.History;

namespace Echo.Protocols.Tests.History;

public sealed class SyncTurnsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 10_000)]
    public async Task OnePeer_RunsAtMostItsShareAtOnce_TheOthersWaitTheirTurn()
    {
        SyncTurns<string> turns = new(perPeer: 2);
        TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource threeStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int running = 0, most = 0, started = 0;
        async Task Sync()
        {
            int now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            if (Interlocked.Increment(ref started) == 3)
                threeStarted.SetResult();
            await release.Task;
            Interlocked.Decrement(ref running);
        }

        Task[] runs = [.. Enumerable.Range(0, 5).Select(i => turns.Run("bob", "room" + i, Sync, Ct))];
        Task other = turns.Run("carol", "room0", Sync, Ct);   // another peer has its own share
        await threeStarted.Task;

        Assert.Equal(3, Volatile.Read(ref running));   // no slot frees before the release, so no fourth can start
        release.SetResult();
        await Task.WhenAll([.. runs, other]);
        Assert.Equal(6, started);
        Assert.Equal(3, most);   // bob's 2 and carol's 1
        Assert.Equal(0, turns.Peers);   // the last sync out forgot the peers
    }

    [Fact(Timeout = 10_000)]
    public async Task AskingAgainForAPairThatRuns_JoinsIt()
    {
        SyncTurns<string> turns = new(perPeer: 2);
        TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        Task Sync()
        {
            Interlocked.Increment(ref calls);
            return release.Task;
        }

        Task first = turns.Run("bob", "lobby", Sync, Ct);
        Task again = turns.Run("bob", "lobby", Sync, Ct);

        Assert.Same(first, again);
        release.SetResult();
        await first;
        Assert.Equal(1, calls);
        await turns.Run("bob", "lobby", Sync, Ct);   // ended: a new one runs
        Assert.Equal(2, calls);
    }

    [Fact(Timeout = 10_000)]
    public async Task Cancelled_WhileWaitingForItsTurn_EndsWithoutRunning()
    {
        SyncTurns<string> turns = new(perPeer: 1);
        TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource holds = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Task holding = turns.Run("bob", "a", () =>
        {
            holds.SetResult();
            return release.Task;
        }, Ct);
        await holds.Task;   // "a" has the one slot
        using CancellationTokenSource cancel = new();
        bool ran = false;
        Task waiting = turns.Run("bob", "b", () => { ran = true; return Task.CompletedTask; }, cancel.Token);

        await cancel.CancelAsync();
        await waiting;

        Assert.False(ran);
        release.SetResult();
        await holding;
        Assert.Equal(0, turns.Peers);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
