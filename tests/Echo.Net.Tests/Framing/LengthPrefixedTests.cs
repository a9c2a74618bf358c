using System.Buffers;
using System.IO.Pipelines;
using CsCheck;
using Echo.Net.Framing;

namespace Echo.Net.Tests.Framing;

public class LengthPrefixedTests
{
    [Fact]
    public void TryRead_LengthAboveLimit_ThrowsBeforeAllocating()
    {
        // 2^63-1 announced, 3 bytes present: must be rejected from the prefix alone.
        ReadOnlySequence<byte> buffer = new(Convert.FromHexString("ffffffffffffffff7f000102"));
        long before = GC.GetAllocatedBytesForCurrentThread();
        OversizedMessageException e = Assert.Throws<OversizedMessageException>(
            () => LengthPrefixed.TryRead(ref buffer, 1024, "/test", out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4096);
        Assert.Equal((ulong)long.MaxValue, e.Length);
    }

    [Fact]
    public void TryRead_PartialMessage_NeedsMoreAndLeavesBufferAlone()
    {
        ReadOnlySequence<byte> buffer = new(Convert.FromHexString("05616263"));
        Assert.False(LengthPrefixed.TryRead(ref buffer, 1024, "/test", out _));
        Assert.Equal(4, buffer.Length);
    }

    [Fact]
    public void TryRead_TwoMessages_SlicesBothInOrder()
    {
        ReadOnlySequence<byte> buffer = new([.. LengthPrefixed.Encode("ab"u8), .. LengthPrefixed.Encode("cde"u8)]);
        Assert.True(LengthPrefixed.TryRead(ref buffer, 16, "/test", out ReadOnlySequence<byte> first));
        Assert.True(LengthPrefixed.TryRead(ref buffer, 16, "/test", out ReadOnlySequence<byte> second));
        Assert.Equal("ab"u8.ToArray(), first.ToArray());
        Assert.Equal("cde"u8.ToArray(), second.ToArray());
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public async Task ReadLengthPrefixedAsync_EndInsideMessage_ThrowsUnexpectedEnd()
    {
        Pipe pipe = new();
        await pipe.Writer.WriteAsync(Convert.FromHexString("0561"), TestContext.Current.CancellationToken);
        await pipe.Writer.CompleteAsync();
        await Assert.ThrowsAsync<UnexpectedEndException>(async () =>
            await pipe.Reader.ReadLengthPrefixedAsync(64, "/test", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task ReadLengthPrefixedAsync_CleanEnd_ReturnsNull()
    {
        Pipe pipe = new();
        await pipe.Writer.WriteLengthPrefixedAsync("hi"u8.ToArray(), TestContext.Current.CancellationToken);
        await pipe.Writer.CompleteAsync();
        Assert.Equal("hi"u8.ToArray(), await pipe.Reader.ReadLengthPrefixedAsync(64, "/test", TestContext.Current.CancellationToken));
        Assert.Null(await pipe.Reader.ReadLengthPrefixedAsync(64, "/test", TestContext.Current.CancellationToken));
    }

    [Fact]
    public void TryRead_RandomAndMutatedBytes_OnlyProtocolViolations()
    {
        Gen<byte[]> valid = Gen.Byte.Array[0, 300].Select(p => LengthPrefixed.Encode(p));
        Gen<byte[]> mutated = Gen.Select(valid, Gen.Int[0, 1000], Gen.Byte, (b, i, x) =>
        {
            if (b.Length > 0) b[i % b.Length] ^= x;
            return b;
        });
        Gen.OneOf(Gen.Byte.Array[0, 64], mutated).Sample(bytes =>
        {
            ReadOnlySequence<byte> buffer = new(bytes);
            try
            {
                while (LengthPrefixed.TryRead(ref buffer, 256, "/test", out _))
                {
                }
            }
            catch (ProtocolViolationException)
            {
            }
        }, iter: 200_000);
    }

    [Fact]
    public async Task ReadLengthPrefixedAsync_TwoMessagesInOneWrite_SecondReadDoesNotWait()
    {
        Pipe pipe = new();
        await pipe.Writer.WriteAsync((byte[])[.. LengthPrefixed.Encode("a"u8), .. LengthPrefixed.Encode("b"u8)], TestContext.Current.CancellationToken);
        Assert.Equal("a"u8.ToArray(), await pipe.Reader.ReadLengthPrefixedAsync(8, "/test", TestContext.Current.CancellationToken));
        byte[]? second = await pipe.Reader.ReadLengthPrefixedAsync(8, "/test", TestContext.Current.CancellationToken)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal("b"u8.ToArray(), second);
    }

    [Fact]
    public async Task ReadLengthPrefixedAsync_MessageLargerThanThePipeHolds_ConsumesAsItArrives()
    {
        // A writer that may keep at most 64 KiB unconsumed, as a yamux window would: a reader that
        // waited for the whole 1 MiB message would never get it.
        Pipe pipe = new(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024));
        byte[] payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(1 << 20);
        Task writer = Task.Run(async () =>
        {
            byte[] framed = LengthPrefixed.Encode(payload);
            for (int i = 0; i < framed.Length; i += 16 * 1024)
                await pipe.Writer.WriteAsync(framed.AsMemory(i, Math.Min(16 * 1024, framed.Length - i)), TestContext.Current.CancellationToken);
            await pipe.Writer.CompleteAsync();
        }, TestContext.Current.CancellationToken);
        byte[]? read = await pipe.Reader.ReadLengthPrefixedAsync(2 << 20, "/test", TestContext.Current.CancellationToken)
            .AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await writer.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(payload, read);
    }

    [Fact]
    public async Task ReadLengthPrefixedAsync_EndInsideALargeMessage_ThrowsUnexpectedEnd()
    {
        Pipe pipe = new();
        byte[] framed = LengthPrefixed.Encode(new byte[100_000]);
        await pipe.Writer.WriteAsync(framed.AsMemory(0, 50_000), TestContext.Current.CancellationToken);
        Task complete = Task.Run(async () => await pipe.Writer.CompleteAsync(), TestContext.Current.CancellationToken);
        await Assert.ThrowsAsync<UnexpectedEndException>(async () =>
            await pipe.Reader.ReadLengthPrefixedAsync(200_000, "/test", TestContext.Current.CancellationToken));
        await complete;
    }
}
