using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using CsCheck;
using Echo.Net.Transport.Tcp;

namespace Echo.Net.Tests.Transport;

public class TcpConnectionTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Two connected loopback TCP connections.</summary>
    private static async Task<(TcpConnection A, TcpConnection B)> ConnectAsync()
    {
        using Socket listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        Socket dialer = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Task<Socket> accepted = listener.AcceptAsync(Ct).AsTask();
        await dialer.ConnectAsync(listener.LocalEndPoint!, Ct);
        return (new TcpConnection(dialer), new TcpConnection(await accepted.WaitAsync(Limit, Ct)));
    }

    private static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int count)
    {
        ArrayBufferWriter<byte> received = new();
        while (received.WrittenCount < count)
        {
            ReadResult result = await reader.ReadAsync(Ct).AsTask().WaitAsync(Limit, Ct);
            ReadOnlySequence<byte> take = result.Buffer.Slice(0, Math.Min(result.Buffer.Length, count - received.WrittenCount));
            foreach (ReadOnlyMemory<byte> segment in take)
                received.Write(segment.Span);
            reader.AdvanceTo(take.End, result.Buffer.End);
            if (result.IsCompleted && received.WrittenCount < count)
                throw new EndOfStreamException($"ended after {received.WrittenCount} of {count} bytes");
        }
        return received.WrittenSpan.ToArray();
    }

    [Fact]
    public async Task Transfer_WritesAndFlushesOfAnySize_ArriveIntactAndInOrder()
    {
        await Gen.Int[0, 300_000].Array[1, 12].SampleAsync(async sizes =>
        {
            (TcpConnection a, TcpConnection b) = await ConnectAsync();
            await using (a)
            await using (b)
            {
                byte[] data = new byte[sizes.Sum()];
                Random.Shared.NextBytes(data);
                Task<byte[]> received = ReadExactlyAsync(b.Input, data.Length);
                int offset = 0;
                foreach (int size in sizes)
                {
                    // Half the writes go through GetSpan/Advance in small pieces (growing the buffer), half at once.
                    if (size % 2 == 0)
                    {
                        for (int piece = 0; piece < size; piece += 7000)
                        {
                            int n = Math.Min(7000, size - piece);
                            data.AsSpan(offset + piece, n).CopyTo(a.Output.GetSpan(n));
                            a.Output.Advance(n);
                        }
                        await a.Output.FlushAsync(Ct);
                    }
                    else
                    {
                        await a.Output.WriteAsync(data.AsMemory(offset, size), Ct);
                    }
                    offset += size;
                }
                Assert.Equal(data, await received.WaitAsync(Limit, Ct));
            }
        }, iter: 12, threads: 1);
    }

    [Fact]
    public async Task Read_PartlyExamined_ReturnsTheRestAtOnceButWaitsOnceAllIsExamined()
    {
        (TcpConnection a, TcpConnection b) = await ConnectAsync();
        await using (a)
        await using (b)
        {
            await a.Output.WriteAsync("0123456789"u8.ToArray(), Ct);
            ReadResult first = await ReadAtLeastAsync(b.Input, 10);
            b.Input.AdvanceTo(first.Buffer.GetPosition(4), first.Buffer.GetPosition(6));

            ValueTask<ReadResult> second = b.Input.ReadAsync(Ct);
            Assert.True(second.IsCompleted, "unexamined bytes are returned without receiving");
            ReadResult rest = await second;
            Assert.Equal("456789"u8.ToArray(), rest.Buffer.ToArray());
            b.Input.AdvanceTo(rest.Buffer.Start, rest.Buffer.End);

            ValueTask<ReadResult> third = b.Input.ReadAsync(Ct);
            Assert.False(third.IsCompleted, "everything was examined: the read waits for new bytes");
            await a.Output.WriteAsync("ab"u8.ToArray(), Ct);
            ReadResult more = await third.AsTask().WaitAsync(Limit, Ct);
            while (more.Buffer.Length < 8)
            {
                b.Input.AdvanceTo(more.Buffer.Start, more.Buffer.End);
                more = await b.Input.ReadAsync(Ct).AsTask().WaitAsync(Limit, Ct);
            }
            Assert.Equal("456789ab"u8.ToArray(), more.Buffer.ToArray());
            b.Input.AdvanceTo(more.Buffer.End);
        }
    }

    [Fact]
    public async Task Reader_ConsumedEverything_HoldsNoBuffer_AndItsReceiveSizeFollowsTheTraffic()
    {
        (TcpConnection a, TcpConnection b) = await ConnectAsync();
        await using (a)
        await using (b)
        {
            SocketReader reader = Assert.IsType<SocketReader>(b.Input);
            Assert.Equal(SocketReader.MinimumReceiveSize, reader.ReceiveSize);

            byte[] bulk = new byte[16 * 1024 * 1024];
            Task<byte[]> received = ReadExactlyAsync(b.Input, bulk.Length);
            await a.Output.WriteAsync(bulk, Ct);
            await received.WaitAsync(Limit, Ct);
            Assert.True(reader.ReceiveSize > 64 * 1024, $"still receiving {reader.ReceiveSize} bytes at a time after 16 MiB");
            Assert.False(reader.HoldsBuffer, "everything was consumed, yet the receive buffer is kept");

            for (int i = 0; i < 16; i++)
            {
                await a.Output.WriteAsync(new byte[100], Ct);
                await ReadExactlyAsync(b.Input, 100);
            }
            Assert.Equal(SocketReader.MinimumReceiveSize, reader.ReceiveSize);
            Assert.False(reader.HoldsBuffer);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(ReceiveAllowance.DefaultCapacity)]
    public async Task Reader_BuffersPastTheUnmeteredSize_TakeAShareOfTheAllowance_AndGiveItBack(long capacity)
    {
        ReceiveAllowance allowance = new(capacity);
        using Socket listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using Socket dialer = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Task<Socket> accepted = listener.AcceptAsync(Ct).AsTask();
        await dialer.ConnectAsync(listener.LocalEndPoint!, Ct);
        using Socket socket = await accepted.WaitAsync(Limit, Ct);
        SocketReader reader = new(socket, allowance);
        try
        {
            byte[] bulk = new byte[16 * 1024 * 1024];
            Task sent = dialer.SendAsync(bulk, SocketFlags.None, Ct).AsTask();
            int largest = 0;
            for (long received = 0; received < bulk.Length;)
            {
                ReadResult result = await reader.ReadAsync(Ct).AsTask().WaitAsync(Limit, Ct);
                largest = Math.Max(largest, reader.BufferLength);
                // The share is what the buffer holds beyond the unmetered size: all of it, or nothing.
                Assert.Equal(reader.BufferLength > SocketReader.UnmeteredSize ? reader.BufferLength : 0, allowance.InUse);
                received += result.Buffer.Length;
                reader.AdvanceTo(result.Buffer.End);
            }
            await sent.WaitAsync(Limit, Ct);
            if (capacity == 0)
                Assert.True(largest <= SocketReader.UnmeteredSize, $"a {largest}-byte buffer without a share of the allowance");
            else
                Assert.True(largest > SocketReader.UnmeteredSize, $"the buffer never grew past {largest} bytes with the allowance free");
            Assert.False(reader.HoldsBuffer);
            Assert.Equal(0, allowance.InUse);
        }
        finally
        {
            reader.Complete();
        }
    }

    [Fact]
    public void Allowance_TakesWhatFits_RefusesThePastIt_AndGetsItBack()
    {
        ReceiveAllowance allowance = new(1024);
        Assert.True(allowance.TryTake(1000));
        Assert.False(allowance.TryTake(25));
        Assert.True(allowance.TryTake(24));
        allowance.Give(1000);
        Assert.Equal(24, allowance.InUse);
        Assert.True(allowance.TryTake(1000));
    }

    [Fact]
    public async Task Read_RemoteClosed_CompletesAfterTheData()
    {
        (TcpConnection a, TcpConnection b) = await ConnectAsync();
        await using (b)
        {
            await a.Output.WriteAsync("last"u8.ToArray(), Ct);
            await a.DisposeAsync();
            ArrayBufferWriter<byte> all = new();
            while (true)
            {
                ReadResult result = await b.Input.ReadAsync(Ct).AsTask().WaitAsync(Limit, Ct);
                foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                    all.Write(segment.Span);
                b.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                    break;
            }
            Assert.Equal("last"u8.ToArray(), all.WrittenSpan.ToArray());
        }
    }

    [Fact]
    public async Task CancelPendingRead_WakesTheReadWhichThenSeesLaterData()
    {
        (TcpConnection a, TcpConnection b) = await ConnectAsync();
        await using (a)
        await using (b)
        {
            ValueTask<ReadResult> pending = b.Input.ReadAsync(Ct);
            b.Input.CancelPendingRead();
            ReadResult canceled = await pending.AsTask().WaitAsync(Limit, Ct);
            Assert.True(canceled.IsCanceled);
            b.Input.AdvanceTo(canceled.Buffer.Start, canceled.Buffer.End);

            await a.Output.WriteAsync("after"u8.ToArray(), Ct);
            Assert.Equal("after"u8.ToArray(), await ReadExactlyAsync(b.Input, 5));
        }
    }

    [Fact]
    public async Task CancelPendingRead_WithNoReadPending_CancelsOnlyTheNextRead()
    {
        (TcpConnection a, TcpConnection b) = await ConnectAsync();
        await using (a)
        await using (b)
        {
            b.Input.CancelPendingRead();
            ReadResult canceled = await b.Input.ReadAsync(Ct).AsTask().WaitAsync(Limit, Ct);
            Assert.True(canceled.IsCanceled);
            b.Input.AdvanceTo(canceled.Buffer.Start, canceled.Buffer.End);

            ValueTask<ReadResult> next = b.Input.ReadAsync(Ct);
            Assert.False(next.IsCompleted, "only one read is canceled");
            await a.Output.WriteAsync("x"u8.ToArray(), Ct);
            ReadResult data = await next.AsTask().WaitAsync(Limit, Ct);
            Assert.False(data.IsCanceled);
            Assert.Equal("x"u8.ToArray(), data.Buffer.ToArray());
            b.Input.AdvanceTo(data.Buffer.End);
        }
    }

    [Fact]
    public async Task Read_TokenCanceled_ThrowsAndTheReaderStaysUsable()
    {
        (TcpConnection a, TcpConnection b) = await ConnectAsync();
        await using (a)
        await using (b)
        {
            using CancellationTokenSource cancel = new();
            ValueTask<ReadResult> pending = b.Input.ReadAsync(cancel.Token);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.AsTask().WaitAsync(Limit, Ct));

            await a.Output.WriteAsync("still"u8.ToArray(), Ct);
            Assert.Equal("still"u8.ToArray(), await ReadExactlyAsync(b.Input, 5));
        }
    }

    [Fact]
    public async Task Abort_EndsAPendingRead()
    {
        (TcpConnection a, TcpConnection b) = await ConnectAsync();
        await using (a)
        await using (b)
        {
            ValueTask<ReadResult> pending = b.Input.ReadAsync(Ct);
            b.Abort();
            // Abort shuts the socket down before closing it, so the read sees either the end or the failure.
            try
            {
                ReadResult result = await pending.AsTask().WaitAsync(Limit, Ct);
                Assert.True(result.IsCompleted);
            }
            catch (IOException)
            {
            }
        }
    }

    [Fact]
    public async Task Flush_AfterTheConnectionClosed_ThrowsIOException()
    {
        (TcpConnection a, TcpConnection b) = await ConnectAsync();
        await using (a)
        await using (b)
        {
            a.Abort();
            await Assert.ThrowsAsync<IOException>(async () => await a.Output.WriteAsync(new byte[10], Ct));
        }
    }

    [Fact]
    public async Task CancelPendingFlush_WithNoFlushPending_CancelsTheNextFlushAndKeepsItsBytes()
    {
        (TcpConnection a, TcpConnection b) = await ConnectAsync();
        await using (a)
        await using (b)
        {
            "kept"u8.CopyTo(a.Output.GetSpan(4));
            a.Output.Advance(4);
            a.Output.CancelPendingFlush();
            FlushResult canceled = await a.Output.FlushAsync(Ct);
            Assert.True(canceled.IsCanceled);
            Assert.Equal(4, a.Output.UnflushedBytes);

            await a.Output.FlushAsync(Ct);
            Assert.Equal("kept"u8.ToArray(), await ReadExactlyAsync(b.Input, 4));
        }
    }

    [Fact]
    public async Task CancelPendingFlush_WhileThePeerDoesNotRead_ReturnsCanceledAndBreaksTheWriter()
    {
        (TcpConnection a, TcpConnection b) = await ConnectAsync();
        await using (a)
        await using (b)
        {
            // More than both socket buffers hold: the send waits for a reader that never comes.
            byte[] lots = new byte[64 * 1024 * 1024];
            ValueTask<FlushResult> flush = a.Output.WriteAsync(lots, Ct);
            Assert.False(flush.IsCompleted, "64 MiB fit in the socket buffers");
            a.Output.CancelPendingFlush();
            FlushResult result = await flush.AsTask().WaitAsync(Limit, Ct);
            Assert.True(result.IsCanceled);
            await Assert.ThrowsAsync<IOException>(async () => await a.Output.WriteAsync(new byte[1], Ct));
        }
    }

    private static async Task<ReadResult> ReadAtLeastAsync(PipeReader reader, int count)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(Ct).AsTask().WaitAsync(Limit, Ct);
            if (result.Buffer.Length >= count || result.IsCompleted)
                return result;
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
