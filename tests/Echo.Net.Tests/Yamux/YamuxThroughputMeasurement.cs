using System.Diagnostics;
using System.IO.Pipelines;
using Echo.Net.Yamux;

namespace Echo.Net.Tests.Yamux;

/// <summary>
/// Throughput of one stream between two sessions over in-memory pipes. A measurement, not an
/// assertion: run it explicitly (in Release) and read the figures in the test output.
/// </summary>
public class YamuxThroughputMeasurement
{
    [Theory(Explicit = true)]
    [InlineData(64 * 1024, false, false)]
    [InlineData(1024 * 1024, false, false)]
    [InlineData(64 * 1024, true, false)]
    [InlineData(64 * 1024, false, true)]
    [InlineData(1024 * 1024, false, true)]
    public async Task OneStream_InMemory_ReportsGigabytesPerSecond(int writeSize, bool spanWrites, bool largePipes)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        PipeOptions? pipeOptions = largePipes
            ? new PipeOptions(pauseWriterThreshold: 4 * 1024 * 1024, resumeWriterThreshold: 2 * 1024 * 1024,
                minimumSegmentSize: 64 * 1024, useSynchronizationContext: false)
            : null;
        await using SessionPair pair = new(time: TimeProvider.System, pipeOptions: pipeOptions);
        await pair.Client.PingAsync(ct);   // RTT known, so windows can auto-tune as in real use
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(ct);
        byte[] chunk = StreamTestExtensions.Bytes(writeSize);
        const long total = 4L * 1024 * 1024 * 1024;

        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        Stopwatch watch = Stopwatch.StartNew();
        Task send = Task.Run(async () =>
        {
            for (long sent = 0; sent < total; sent += writeSize)
            {
                if (spanWrites)
                {
                    chunk.CopyTo(client.Output.GetSpan(writeSize));
                    client.Output.Advance(writeSize);
                    await client.Output.FlushAsync(ct);
                }
                else
                    await client.Output.WriteAsync(chunk, ct);
            }
            await client.CompleteOutputAsync();
        }, ct);
        long received = 0;
        while (true)
        {
            ReadResult result = await server.Input.ReadAsync(ct);
            received += result.Buffer.Length;
            server.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                break;
        }
        await send.WaitAsync(ct);
        watch.Stop();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        Assert.Equal(total, received);
        double gbps = total / watch.Elapsed.TotalSeconds / 1e9;
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"write {writeSize} B ({(spanWrites ? "GetSpan/Advance/Flush" : "WriteAsync")}), " +
            $"{(largePipes ? "4 MiB" : "default 64 KiB")} connection pipes: {gbps:F2} GB/s, " +
            $"{allocated / (double)(total / (64 * 1024)):F1} B allocated per 64 KiB, window {server.ReceiveWindow}");
        Console.WriteLine($"MEASURE write={writeSize} span={spanWrites} largePipes={largePipes}: {gbps:F2} GB/s, " +
            $"{allocated / (double)(total / (64 * 1024)):F1} B alloc per 64 KiB, window {server.ReceiveWindow}");
    }
}
