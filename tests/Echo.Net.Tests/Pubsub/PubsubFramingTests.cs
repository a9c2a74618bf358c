using System.IO.Pipelines;
using System.Security.Cryptography;
using Echo.Net.Framing;
using Echo.Net.Pubsub;

namespace Echo.Net.Tests.Pubsub;

/// <summary>
/// Pubsub RPC frames through the shared length-prefixed reader, at pubsub's 1 MiB limit: what the
/// router's reader loop depends on.
/// </summary>
public class PubsubFramingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 10_000)]
    public async Task ReadFrame_LargerThanThePipeWillHold_CompletesBecauseBytesAreConsumedAsTheyCome()
    {
        // The writer pauses at 64 KiB unconsumed, as yamux stops granting window: a reader that waits
        // for the whole 1 MiB frame before consuming anything would never finish.
        Pipe pipe = new(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024));
        byte[] body = RandomNumberGenerator.GetBytes(PubsubRpcCodec.MaxRpcSize);
        Task writing = Task.Run(async () =>
        {
            await pipe.Writer.WriteLengthPrefixedAsync(body, Ct);
            await pipe.Writer.WriteLengthPrefixedAsync(new byte[] { 1, 2, 3 }, Ct);
            await pipe.Writer.WriteLengthPrefixedAsync(Array.Empty<byte>(), Ct);
            await pipe.Writer.CompleteAsync();
        }, Ct);
        byte[]? first = await pipe.Reader.ReadLengthPrefixedAsync(PubsubRpcCodec.MaxRpcSize, "test", Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal(body, first);
        byte[]? second = await pipe.Reader.ReadLengthPrefixedAsync(10, "test", Ct);
        Assert.Equal(new byte[] { 1, 2, 3 }, second);
        Assert.Empty((await pipe.Reader.ReadLengthPrefixedAsync(10, "test", Ct))!);
        Assert.Null(await pipe.Reader.ReadLengthPrefixedAsync(10, "test", Ct));
        await writing.WaitAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task ReadFrame_MaximumFrame_AllocatesTheFrameAndLittleElse()
    {
        Pipe pipe = new(new PipeOptions(pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20));
        await pipe.Writer.WriteLengthPrefixedAsync(new byte[PubsubRpcCodec.MaxRpcSize], Ct);
        // Everything is buffered, so the read completes synchronously on this thread and the counter sees it all.
        long before = GC.GetAllocatedBytesForCurrentThread();
        ValueTask<byte[]?> read = pipe.Reader.ReadLengthPrefixedAsync(PubsubRpcCodec.MaxRpcSize, "test", Ct);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(read.IsCompletedSuccessfully);
        Assert.Equal(PubsubRpcCodec.MaxRpcSize, (await read)!.Length);
        Assert.InRange(allocated, PubsubRpcCodec.MaxRpcSize, PubsubRpcCodec.MaxRpcSize + 4096);
    }

    [Theory]
    [InlineData("05010203")]          // body cut short
    [InlineData("80")]                // prefix cut short
    public async Task ReadFrame_EndInsideAFrame_ThrowsUnexpectedEnd(string hex)
    {
        Pipe pipe = new();
        await pipe.Writer.WriteAsync(Convert.FromHexString(hex), Ct);
        await pipe.Writer.CompleteAsync();
        await Assert.ThrowsAsync<UnexpectedEndException>(async () => await pipe.Reader.ReadLengthPrefixedAsync(100, "test", Ct));
    }

    [Fact]
    public async Task ReadFrame_PrefixOverTheLimitOrMalformed_Throws()
    {
        Pipe pipe = new();
        await pipe.Writer.WriteAsync(Varint.Encode(101), Ct);
        await Assert.ThrowsAsync<OversizedMessageException>(async () => await pipe.Reader.ReadLengthPrefixedAsync(100, "test", Ct));
        Pipe bad = new();
        await bad.Writer.WriteAsync(Convert.FromHexString("8000"), Ct);    // non-minimal varint
        ProtocolViolationException e = await Assert.ThrowsAnyAsync<ProtocolViolationException>(async () =>
            await bad.Reader.ReadLengthPrefixedAsync(100, "test", Ct));
        Assert.Equal("test", e.ProtocolId);
    }
}
