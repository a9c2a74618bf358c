using Echo.Core.Ports;

namespace Echo.Protocols.Tests.Network;

public sealed class NetworkEventQueueTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static PeerLeft Event(int n) => new(n.ToString(System.Globalization.CultureInfo.InvariantCulture));

    [Fact(Timeout = 10_000)]
    public async Task ASourceThatFillsItsShare_Waits_WhileAnotherStillGetsIn()
    {
        NetworkEventQueue queue = new(capacity: 100, perSource: 2);
        await queue.WriteAsync("flooder", Event(1), Ct);
        await queue.WriteAsync("flooder", Event(2), Ct);
        ValueTask third = queue.WriteAsync("flooder", Event(3), Ct);
        Assert.False(third.IsCompleted);

        ValueTask honest = queue.WriteAsync("honest", Event(100), Ct);
        Assert.True(honest.IsCompletedSuccessfully);
        Assert.False(third.IsCompleted);

        Assert.True(queue.TryRead(out NetworkEvent? first));
        Assert.Equal(Event(1), first);
        await third.AsTask().WaitAsync(TimeSpan.FromSeconds(5), Ct);   // room again: the flooder goes on
        List<NetworkEvent> rest = [];
        while (queue.TryRead(out NetworkEvent? e))
            rest.Add(e);
        Assert.Equal([Event(2), Event(100), Event(3)], rest);
    }

    [Fact(Timeout = 10_000)]
    public async Task AFullQueue_DropsNothing_EveryEventIsReadInOrder()
    {
        NetworkEventQueue queue = new(capacity: 16, perSource: 4);
        Task writers = Task.WhenAll(Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < 500; i++)
                await queue.WriteAsync("source" + w, Event(w * 1000 + i), Ct);
        }, Ct)));
        Dictionary<int, List<int>> seen = [];
        int total = 0;
        while (total < 2000)
        {
            Assert.True(await queue.WaitToReadAsync(Ct));
            while (queue.TryRead(out NetworkEvent? e))
            {
                Assert.InRange(queue.Count, 0, 16);
                int n = int.Parse(((PeerLeft)e).PeerId, System.Globalization.CultureInfo.InvariantCulture);
                (seen.TryGetValue(n / 1000, out List<int>? list) ? list : seen[n / 1000] = []).Add(n % 1000);
                total++;
            }
        }
        await writers;
        Assert.All(seen.Values, list => Assert.Equal(Enumerable.Range(0, 500), list));
    }

    [Fact(Timeout = 10_000)]
    public async Task PeerEvents_NeverWait_EvenWhenTheQueueIsFull()
    {
        NetworkEventQueue queue = new(capacity: 1, perSource: 1);
        await queue.WriteAsync("a", Event(1), Ct);
        ValueTask waiting = queue.WriteAsync("b", Event(2), Ct);
        Assert.False(waiting.IsCompleted);
        queue.Post(Event(3));                  // from a host callback: at once
        Assert.Equal(2, queue.Count);
        using CancellationTokenSource cancel = new();
        ValueTask cancelled = queue.WriteAsync("c", Event(4), cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.AsTask());
        List<NetworkEvent> read = [];
        while (read.Count < 3)
        {
            await queue.WaitToReadAsync(Ct);
            while (queue.TryRead(out NetworkEvent? e))
                read.Add(e);
        }
        await waiting;
        Assert.Equal([Event(1), Event(3), Event(2)], read);
    }
}
