using System.Buffers;
using System.IO.Pipelines;
using CsCheck;
using Echo.Net.Yamux;

namespace Echo.Net.Tests.Yamux;

/// <summary>
/// Random interleavings checked against the obvious model: what one end writes and closes with FIN
/// arrives at the other end in order, exactly once; after RST the reader has seen a prefix.
/// </summary>
public class YamuxModelTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Chunk(int Size, int Mode);   // Mode 0 WriteAsync, 1 span + flush, 2 span, no flush

    private sealed record StreamPlan(bool OpenedByServer, Chunk[] Forward, Chunk[] Backward, bool Reset, int ReadStyle);

    private static readonly Gen<Chunk> Chunks =
        from size in Gen.OneOf(Gen.Int[0, 64], Gen.Int[0, 5_000], Gen.Int[10_000, 300_000])
        from mode in Gen.Int[0, 2]
        select new Chunk(size, mode);

    private static readonly Gen<StreamPlan> Plans =
        from server in Gen.Bool
        from forward in Chunks.Array[0, 5]
        from backward in Chunks.Array[0, 3]
        from reset in Gen.Int[0, 5].Select(i => i == 0)
        from readStyle in Gen.Int[0, 2]
        select new StreamPlan(server, forward, reset ? [] : backward, reset, readStyle);

    [Fact]
    public async Task RandomStreams_BytesArriveInOrderExactlyOnce()
    {
        await Plans.Array[1, 8].SampleAsync(async plans =>
        {
            await using SessionPair pair = new();
            List<Task> work = [];
            for (int i = 0; i < plans.Length; i++)
            {
                StreamPlan plan = plans[i];
                YamuxSession opener = plan.OpenedByServer ? pair.Server : pair.Client;
                YamuxSession acceptor = plan.OpenedByServer ? pair.Client : pair.Server;
                YamuxStream local = await opener.OpenStreamAsync(Ct);
                YamuxStream remote = await acceptor.AcceptStreamAsync(Ct) ?? throw new InvalidOperationException("closed");
                Assert.Equal(local.Id, remote.Id);
                work.Add(RunAsync(plan, i, local, remote));
            }
            await Task.WhenAll(work).WaitAsync(TimeSpan.FromSeconds(30), Ct);
            await YamuxSessionTests.WaitUntilAsync(() => pair.Client.StreamCount == 0 && pair.Server.StreamCount == 0);
            Assert.Equal(0, pair.Client.ReservedReceiveBytes);
            Assert.Equal(0, pair.Server.ReservedReceiveBytes);
            Assert.False(pair.Client.Closed.IsCancellationRequested);
        }, iter: 40, threads: 1);
    }

    private static async Task RunAsync(StreamPlan plan, int index, YamuxStream local, YamuxStream remote)
    {
        byte[] forward = Content(plan.Forward, index * 2);
        byte[] backward = Content(plan.Backward, index * 2 + 1);
        Task write = WriteAsync(local, plan.Forward, forward, plan.Reset);
        Task writeBack = WriteAsync(remote, plan.Backward, backward, reset: false);
        Task<(byte[] Bytes, bool WasReset)> read = ReadAsync(remote.Input, plan.ReadStyle);
        Task<(byte[] Bytes, bool WasReset)> readBack = ReadAsync(local.Input, plan.ReadStyle);

        await write;
        (byte[] received, bool wasReset) = await read;
        if (plan.Reset)
        {
            Assert.True(wasReset);
            Assert.Equal(forward.AsSpan(0, received.Length).ToArray(), received);   // a prefix, in order
            // The other direction dies with the RST: its FIN may or may not have gone out first.
            await writeBack.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await readBack;
            return;
        }
        Assert.False(wasReset);
        Assert.Equal(forward, received);
        await writeBack;
        (byte[] receivedBack, bool backReset) = await readBack;
        Assert.False(backReset);
        Assert.Equal(backward, receivedBack);
    }

    private static async Task WriteAsync(YamuxStream stream, Chunk[] chunks, byte[] content, bool reset)
    {
        int offset = 0;
        foreach (Chunk chunk in chunks)
        {
            ReadOnlyMemory<byte> bytes = content.AsMemory(offset, chunk.Size);
            offset += chunk.Size;
            switch (chunk.Mode)
            {
                case 0:
                    await stream.Output.WriteAsync(bytes, Ct);
                    break;
                default:
                    for (int done = 0; done < bytes.Length;)
                    {
                        Span<byte> span = stream.Output.GetSpan(1);
                        int n = Math.Min(span.Length, bytes.Length - done);
                        bytes.Span.Slice(done, n).CopyTo(span);
                        stream.Output.Advance(n);
                        done += n;
                    }
                    if (chunk.Mode == 1)
                        await stream.Output.FlushAsync(Ct);
                    break;
            }
        }
        if (reset)
        {
            await stream.Output.FlushAsync(Ct);
            stream.Reset();
        }
        else
            await stream.CompleteOutputAsync();
    }

    private static async Task<(byte[] Bytes, bool WasReset)> ReadAsync(PipeReader input, int style)
    {
        using MemoryStream received = new();
        try
        {
            while (true)
            {
                ReadResult result = style == 2
                    ? await input.ReadAtLeastAsync(1000, Ct)
                    : await input.ReadAsync(Ct);
                ReadOnlySequence<byte> buffer = result.Buffer;
                // Style 1 consumes half of what it sees and examines all of it, like a parser waiting
                // for the rest of a message.
                ReadOnlySequence<byte> consumed = style == 1 && !result.IsCompleted ? buffer.Slice(0, buffer.Length / 2) : buffer;
                foreach (ReadOnlyMemory<byte> segment in consumed)
                    received.Write(segment.Span);
                input.AdvanceTo(consumed.End, buffer.End);
                if (result.IsCompleted)
                {
                    await input.CompleteAsync();
                    return (received.ToArray(), false);
                }
            }
        }
        catch (StreamResetException)
        {
            return (received.ToArray(), true);
        }
    }

    private static byte[] Content(Chunk[] chunks, int seed) => StreamTestExtensions.Bytes(chunks.Sum(c => c.Size), seed);
}
