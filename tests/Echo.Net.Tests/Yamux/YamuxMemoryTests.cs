using Echo.Net.Yamux;

namespace Echo.Net.Tests.Yamux;

/// <summary>Tests that measure the managed heap; alone in their collection so no other test allocates meanwhile.</summary>
[CollectionDefinition(nameof(YamuxMemoryTests), DisableParallelization = true)]
public class YamuxMemoryCollection;

[Collection(nameof(YamuxMemoryTests))]
public class YamuxMemoryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SlowReader_SenderBlocksAtWindow_HeapGrowthBounded()
    {
        // Rule M-5 (docs/LIMITS.md): the receiving application never reads; the sender must stop at the window.
        await using SessionPair pair = new();
        const int streams = 8;
        const int perStream = 1024 * 1024;
        List<(YamuxStream Client, YamuxStream Server)> opened = [];
        for (int i = 0; i < streams; i++)
            opened.Add(await pair.OpenAsync(Ct));
        byte[][] payloads = [.. Enumerable.Range(0, streams).Select(i => StreamTestExtensions.Bytes(perStream, seed: i))];
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);

        Task[] writes = [.. opened.Select((s, i) => s.Client.Output.WriteAsync(payloads[i], Ct).AsTask())];
        foreach ((YamuxStream client, _) in opened)
            await YamuxSessionTests.WaitUntilAsync(() => client.SendWindow == 0);
        // Everything in flight has landed once a ping comes back (frames are ordered on the connection).
        await pair.Client.PingAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await pair.Server.PingAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);

        long heapGrowth = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
        foreach ((_, YamuxStream server) in opened)
            Assert.Equal(YamuxOptions.InitialWindow, server.BufferedBytes);
        Assert.All(writes, w => Assert.False(w.IsCompleted));
        Assert.True(heapGrowth <= streams * (YamuxOptions.InitialWindow + 64 * 1024) + 1024 * 1024,
            $"heap grew by {heapGrowth} bytes");

        // Reading (and so consuming) releases the senders.
        for (int i = 0; i < streams; i++)
        {
            await opened[i].Client.CompleteOutputAsync();
            byte[] received = await opened[i].Server.Input.ReadToEndAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
            Assert.Equal(payloads[i], received);
        }
        await Task.WhenAll(writes).WaitAsync(TimeSpan.FromSeconds(20), Ct);
    }

    [Fact]
    public async Task IdleStreams_CostFewKilobytesEach()
    {
        await using SessionPair pair = new();
        await pair.OpenAsync(Ct);   // warm up code paths and pools
        long before = GC.GetTotalMemory(forceFullCollection: true);
        List<(YamuxStream, YamuxStream)> streams = [];
        for (int i = 0; i < 100; i++)
            streams.Add(await pair.OpenAsync(Ct));
        await pair.Client.PingAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        long perStreamPair = (GC.GetTotalMemory(forceFullCollection: true) - before) / streams.Count;
        GC.KeepAlive(streams);
        TestContext.Current.TestOutputHelper?.WriteLine($"{perStreamPair} bytes per idle stream (both ends)");
        Assert.True(perStreamPair < 8 * 1024, $"{perStreamPair} bytes per idle stream (both ends)");
    }

    [Fact]
    public async Task IdleSessions_CostFewKilobytesEach()
    {
        await using (SessionPair warm = new())
            await warm.Client.PingAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        long before = GC.GetTotalMemory(forceFullCollection: true);
        List<SessionPair> pairs = [];
        for (int i = 0; i < 50; i++)
        {
            SessionPair pair = new();
            await pair.Client.PingAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
            await pair.Server.PingAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
            pairs.Add(pair);
        }
        long perSession = (GC.GetTotalMemory(forceFullCollection: true) - before) / (2 * pairs.Count);
        foreach (SessionPair pair in pairs)
            await pair.DisposeAsync();
        TestContext.Current.TestOutputHelper?.WriteLine($"{perSession} bytes per idle session (with its in-memory pipes)");
        Assert.True(perSession < 16 * 1024, $"{perSession} bytes per idle session");
    }
}
