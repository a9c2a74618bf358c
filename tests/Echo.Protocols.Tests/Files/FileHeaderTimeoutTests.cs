using System.Threading.Channels;
using Echo.Net.Framing;
using Echo.Net.Host;
using Echo.Protocols.Files;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Echo.Protocols.Tests.Files;

/// <summary>
/// L-file-header: a file request must arrive within 10 s of the stream, on the sender's clock. A fake
/// clock moves to a tick before (the request is then answered) and to 10 s (the stream is reset).
/// </summary>
public sealed class FileHeaderTimeoutTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A fake clock that tells when a timer of <paramref name="due"/> is made: the code started waiting for it.</summary>
    private sealed class TimerWatch(TimeSpan due) : FakeTimeProvider(DateTimeOffset.UtcNow)
    {
        private readonly Channel<bool> _made = Channel.CreateUnbounded<bool>();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            ITimer timer = base.CreateTimer(callback, state, dueTime, period);
            if (dueTime == due)
                _made.Writer.TryWrite(true);
            return timer;
        }

        /// <summary>Forgets the timers made so far.</summary>
        public void Drain()
        {
            while (_made.Reader.TryRead(out _))
            {
            }
        }

        public async Task NextTimerAsync() =>
            await _made.Reader.ReadAsync(Ct).AsTask().WaitAsync(TestNetworks.Wait, Ct);
    }

    private static async Task<bool> ResetAsync(P2PStream stream)
    {
        using CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TestNetworks.Wait);
        try
        {
            while (true)
            {
                System.IO.Pipelines.ReadResult read = await stream.Input.ReadAsync(deadline.Token);
                stream.Input.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                    return false;
            }
        }
        catch (IOException)
        {
            return true;
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task ARequestOneTickBeforeTenSecondsIsAnswered_NoneByTenSecondsResetsTheStream()
    {
        TimeSpan limit = TimeSpan.FromSeconds(10);
        Assert.Equal(limit, FileProtocol.HeaderTimeout);
        TimerWatch time = new(limit);
        await using Libp2pChatNetwork sender = new(TestNetworks.NewHost(), TestNetworks.Options, NullLoggerFactory.Instance, time);
        await sender.StartAsync(Ct);
        await using Libp2pChatNetwork fetcher = await TestNetworks.StartAsync();
        await fetcher.ConnectAsync(sender.ListenAddresses[0], Ct);

        time.Drain();
        P2PStream late = await fetcher.Host.OpenStreamAsync(sender.Id(), FileProtocol.ProtocolId, Ct);
        await time.NextTimerAsync();
        time.Advance(limit - TimeSpan.FromTicks(1));
        await late.Output.WriteLengthPrefixedAsync(new FileRequest { Id = "none" }.ToByteArray(), Ct);
        using (CancellationTokenSource deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            deadline.CancelAfter(TestNetworks.Wait);
            byte[]? answer = await late.Input.ReadLengthPrefixedAsync(FileProtocol.MaxHeaderBytes, FileProtocol.ProtocolId, deadline.Token);
            Assert.NotNull(answer);
            Assert.Equal("no such offer", FileResponse.Parser.ParseFrom(answer).Reason);
        }

        time.Drain();
        P2PStream silent = await fetcher.Host.OpenStreamAsync(sender.Id(), FileProtocol.ProtocolId, Ct);
        await time.NextTimerAsync();
        time.Advance(limit - TimeSpan.FromTicks(1));
        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(await ResetAsync(silent), "a stream without a request was not reset at 10 s");
    }
}
